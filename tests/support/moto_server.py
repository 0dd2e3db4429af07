"""moto's S3 server in a process of its own on the loopback interface (it enforces Object Lock retention),
for the object store's contract tests. Skipped only where moto is not installed and CI is not set."""
from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

ACCESS_KEY = "edms-test-key"
SECRET_KEY = "edms-test-secret"


@dataclass(frozen=True)
class MotoServer:
    endpoint_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(tmp_dir) -> Iterator[MotoServer]:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("boto3") is None:
        if os.environ.get("CI"):
            pytest.fail("moto[server] and boto3 are required in CI (pip install -e '.[dev]')")
        pytest.skip("moto[server] is not installed")
    port = _free_port()
    log = open(tmp_dir / "moto.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # until it answers (not a timed assertion: a start-up wait)
            if process.poll() is not None:
                raise RuntimeError(f"moto server exited: {(tmp_dir / 'moto.log').read_text()}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield MotoServer(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
