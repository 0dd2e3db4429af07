"""How fast `edms verify` walks the audit chain, against raw SHA-256 over the same bytes, and its memory.

    python benches/bench_audit_verify.py --events 100000 [--keep DIR] [--batch-size 5000]

Builds a migrated SQLite database in a temporary directory with a valid chain of N events (bulk
inserts in one transaction, hashes computed with edms.audit.chain), timing hashlib.sha256 over each
event's canonical bytes as it goes: that is the raw cost. Then, in a fresh process so that its memory is
its own, runs the audit-chain check of `verify()` twice: once timed, once under tracemalloc. Prints one
JSON line with the results.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from edms.audit.chain import GENESIS_HASH, canonical_bytes, canonical_changes
from edms.audit.models import AuditEvent
from edms.db import make_engine
from edms.migrate import upgrade
from edms.timeutil import isoformat_utc

BUILD_BATCH = 10_000
ACTIONS = ("document.created", "document.submitted", "signature.applied", "user.updated", "auth.signed_in")


def build_chain(path: Path, events: int) -> float:
    """Create the database with a valid chain; returns the seconds spent in hashlib.sha256 alone."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    start = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    previous, raw_seconds = GENESIS_HASH, 0.0
    with engine.begin() as connection:
        for first in range(1, events + 1, BUILD_BATCH):
            rows, canonical = [], []
            for seq in range(first, min(first + BUILD_BATCH, events + 1)):
                occurred = start + timedelta(milliseconds=seq * 37)
                row = {
                    "seq": seq, "occurred_at": occurred, "actor_id": seq % 40 + 1,
                    "actor_name": "Akiko Tanaka (田中 明子)", "action": ACTIONS[seq % len(ACTIONS)],
                    "object_type": "document", "object_id": f"DOC-{seq // 7:07d}",
                    "document_version": seq % 5 + 1 if seq % 3 else None, "case_id": f"OOS-2026-{seq % 900:04d}",
                    "changes": canonical_changes({"status": {"old": "draft", "new": "in_review"},
                                                  "title": {"old": None, "new": f"Batch record {seq}"}}),
                    "reason": "Routine review\nafter QC release" if seq % 4 == 0 else None,
                    "request_id": f"{seq:032x}", "client_addr": "10.0.0.17", "app_version": "0.1.0",
                    "prev_hash": previous,
                }
                data = canonical_bytes({**row, "occurred_at": isoformat_utc(occurred)})
                row["hash"] = previous = hashlib.sha256(data).hexdigest()
                rows.append(row)
                canonical.append(data)
            # The raw cost: SHA-256 (with hex digest, as stored) over the same bytes, a batch at a time.
            tick = time.perf_counter()
            for data in canonical:
                hashlib.sha256(data).hexdigest()
            raw_seconds += time.perf_counter() - tick
            connection.execute(insert(AuditEvent.__table__), rows)
    engine.dispose()
    return raw_seconds


def stage_costs(engine, batch_size: int) -> tuple[float, float]:
    """Where verify's time goes: reading the rows, then building their canonical bytes and hashing them."""
    from sqlalchemy import text

    from edms.audit.integrity import _canonical_times, batch_hashes, chain_rows_sql, read_snapshot

    statement = text(chain_rows_sql("sqlite"))
    fetch_seconds = hash_seconds = 0.0
    with read_snapshot(engine) as connection:
        last = 0
        while True:
            tick = time.perf_counter()
            rows = connection.execute(statement, {"after": last, "limit": batch_size}).all()
            fetch_seconds += time.perf_counter() - tick
            if not rows:
                return fetch_seconds, hash_seconds
            tick = time.perf_counter()
            batch_hashes(rows, _canonical_times("sqlite", rows))
            hash_seconds += time.perf_counter() - tick
            last = rows[-1].seq


def measure_verify(path: Path, batch_size: int) -> dict:
    from edms.application.integrity import check_integrity as verify

    engine = make_engine(f"sqlite:///{path}")
    baseline_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tick = time.perf_counter()
    report = verify(engine, only={"audit_chain"}, batch_size=batch_size)
    seconds = time.perf_counter() - tick
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert report.ok, report.summary()
    fetch_seconds, hash_seconds = stage_costs(engine, batch_size)
    tracemalloc.start()
    verify(engine, only={"audit_chain"}, batch_size=batch_size)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()
    return {"verify_seconds": seconds, "events_verified": report.counts["audit_event"],
            "fetch_seconds": fetch_seconds, "canonical_hash_seconds": hash_seconds,
            "rss_before_verify_mib": baseline_rss_kib / 1024, "peak_rss_mib": rss_kib / 1024,
            "tracemalloc_peak_mib": traced_peak / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="build the database in this directory and keep it")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure_verify(args.measure, args.batch_size)))
        return
    directory = args.keep or Path(tempfile.mkdtemp(prefix="edms-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "bench.sqlite3"
    path.unlink(missing_ok=True)
    tick = time.perf_counter()
    raw_seconds = build_chain(path, args.events)
    build_seconds = time.perf_counter() - tick
    child = subprocess.run([sys.executable, __file__, "--measure", str(path), "--batch-size", str(args.batch_size)],
                           check=True, capture_output=True, text=True)
    result = json.loads(child.stdout)
    result.update({
        "events": args.events, "build_seconds": round(build_seconds, 1), "raw_sha256_seconds": raw_seconds,
        "raw_us_per_event": raw_seconds / args.events * 1e6,
        "verify_us_per_event": result["verify_seconds"] / args.events * 1e6,
        "verify_over_raw": result["verify_seconds"] / raw_seconds,
        "fetch_us_per_event": result.pop("fetch_seconds") / args.events * 1e6,
        "canonical_hash_us_per_event": result.pop("canonical_hash_seconds") / args.events * 1e6,
        "database_mib": path.stat().st_size / 2**20,
    })
    print(json.dumps({key: round(value, 3) if isinstance(value, float) else value for key, value in result.items()}))
    if not args.keep:
        for file in directory.iterdir():
            file.unlink()
        directory.rmdir()


if __name__ == "__main__":
    main()
