"""The real server in a process of its own (`python -m edms.cli serve`), on loopback, for the fault tests:
started against a test's database and data directory, killed with SIGKILL, started again."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edms.config import Settings

LOOPBACK = "127.0.0.1"
# No proxy from the environment ever sees these requests: loopback only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def environment(settings: Settings) -> dict[str, str]:
    """The environment of an `edms` command working on the test's database and data directory."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EDMS_")}
    env.update(EDMS_ENV="testing", EDMS_DATABASE_URL=settings.database_url, EDMS_DATA_DIR=str(settings.data_dir),
               PYTHONUNBUFFERED="1")
    return env


def edms_command(settings: Settings, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m edms.cli <args>` on the test's database; its output is returned, never raised."""
    return subprocess.run([sys.executable, "-m", "edms.cli", *args], env=environment(settings), capture_output=True,
                          text=True, timeout=timeout, check=False)


@dataclass
class Response:
    status: int
    body: Any


@dataclass
class Server:
    """One `edms serve` process at a time; `kill` is SIGKILL, `stop` is the finaliser's (always safe)."""

    settings: Settings
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60) -> Server:
        assert self.process is None, "the server is already running"
        self.starts += 1
        log = open(self.log_dir / f"server-{self.starts}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edms.cli", "serve", "--host", LOOPBACK, "--port", str(self.port), "--threads", "8"],
            env=environment(self.settings), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"edms serve ended with {self.process.returncode}: {self.log()}")
            try:
                if self.request("GET", "/api/v1/openapi.json", timeout=2).status == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"edms serve did not answer within {timeout} s: {self.log()}")

    def kill(self) -> None:
        """SIGKILL: no request finishes, no handler runs, nothing is flushed by the server."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self.process = None

    def log(self) -> str:
        path = self.log_dir / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def request(self, method: str, path: str, body: dict | None = None, *, token: str | None = None,
                timeout: float = 30) -> Response:
        """One HTTP request; an HTTP error status is a `Response`, a broken connection an `OSError`."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(status, parsed)

    def token(self, username: str, password: str) -> str:
        answer = self.request("POST", "/api/v1/auth/token", {"username": username, "password": password})
        assert answer.status == 201, answer.body
        return answer.body["token"]
