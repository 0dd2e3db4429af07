"""Throughput of each blob store (put, get re-hashed, verify) against raw SHA-256 over the same bytes.

    python benches/bench_blobstores.py --blobs 50 --size-mib 1 [--database-url URL] [--no-s3]

Stores N distinct blobs of the given size in each backend: files in a temporary directory, the database
(a migrated SQLite file, or --database-url / BENCH_DATABASE_URL for an empty migrated PostgreSQL database)
and, when moto is installed, an S3 bucket with Object Lock on moto's server on the loopback interface
(moto keeps objects in memory: its figure shows the client's path, not a real object store's). Prints
one JSON line per backend and operation: MiB/s measured, MiB/s of hashlib.sha256 alone, their ratio.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edms.db import make_engine  # noqa: E402
from edms.documents.blobstores import BlobStore, DatabaseBlobStore, FileBlobStore, S3BlobStore, S3Location  # noqa: E402
from edms.migrate import upgrade  # noqa: E402


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(name: str, engine_name: str, store: BlobStore, blobs: list[bytes], raw_seconds: float) -> None:
    mib = sum(len(blob) for blob in blobs) / (1 << 20)
    names: list[str] = []
    put = _timed(lambda: names.extend(store.put(blob) for blob in blobs))
    get = _timed(lambda: [store.get(digest) for digest in names])
    verify = _timed(lambda: [store.verify(digest) for digest in names])
    raw = mib / raw_seconds
    for operation, seconds in (("put", put), ("get", get), ("verify", verify)):
        measured = mib / seconds
        print(json.dumps({"bench": f"blobstore_{name}_{operation}", "engine": engine_name, "measured": round(measured, 1),
                          "raw": round(raw, 1), "ratio": round(measured / raw, 4), "unit": "MiB/s",
                          "blobs": len(blobs), "blob_mib": round(mib / len(blobs), 2)}), flush=True)


def _moto(directory: Path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blobs", type=int, default=50)
    parser.add_argument("--size-mib", type=float, default=1.0)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    blobs = [os.urandom(int(args.size_mib * (1 << 20))) for _ in range(args.blobs)]
    raw_seconds = _timed(lambda: [hashlib.sha256(blob).hexdigest() for blob in blobs])
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        measure("filesystem", "-", FileBlobStore(directory / "blobs"), blobs, raw_seconds)
        url = args.database_url or f"sqlite:///{directory / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        measure("database", engine.dialect.name, DatabaseBlobStore(engine), blobs, raw_seconds)
        engine.dispose()
        if not args.no_s3:
            try:
                import boto3  # noqa: F401
                import moto  # noqa: F401
            except ImportError:
                return
            process, endpoint = _moto(directory)
            try:
                location = S3Location(bucket="edms-bench", endpoint_url=endpoint, access_key_id="bench",
                                      secret_access_key="bench")
                measure("s3_moto", "-", S3BlobStore(location, default_retention=timedelta(days=1)), blobs, raw_seconds)
            finally:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
