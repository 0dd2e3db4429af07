"""A throw-away Redis server on the loopback interface (Debian's `redis-server`): a free port, a temporary
directory, no persistence. Absent binary: the test is skipped, except in CI (CI set), where it fails."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import LOOPBACK, free_port


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (scripts/setup.sh installs Debian's redis-server)")
        pytest.skip("redis-server is not installed (scripts/setup.sh installs Debian's redis-server)")
    return binary


@dataclass
class RedisServer:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout: float = 30) -> RedisServer:
        self.port = free_port()
        log = open(self.directory / "redis.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [redis_binary(), "--bind", LOOPBACK, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), "--protected-mode", "yes"], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server ended: {(self.directory / 'redis.log').read_text()[-2000:]}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None
