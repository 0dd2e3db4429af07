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
from typing import Any, Self

from edms.config import Settings

LOOPBACK = "127.0.0.1"
# No proxy from the environment ever sees these requests: loopback only.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# What a server answers once it is up (the load balancer's health check of docs/deployment.md).
HEALTH_CHECK = "/api/v1/openapi.json"


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
    """One `edms serve` process at a time; `kill` is SIGKILL, `stop` is the finaliser's (always safe).

    `start` = `spawn` (the process, its output in log_dir/server-<n>.log) + `wait_ready` (its health check: the
    API answers, so its schema is current and its settings accepted). The multi-node harness
    (tests/cluster/harness.py `Node`) spawns its nodes side by side, then waits for each, with the environment
    its deployment gives them (`environment`)."""

    settings: Settings
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    name: str = "edms serve"
    ready: bool = False  # answered its health check since it was last started (a load balancer sends to it)
    ready_timeout: float = 60

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def environment(self) -> dict[str, str]:
        """The process's environment: the test's database and data directory."""
        return environment(self.settings)

    def spawn(self) -> Self:
        """Start the process, without waiting for it to answer."""
        assert self.process is None, f"{self.name} is already running"
        self.ready = False
        self.starts += 1
        log = open(self.log_dir / f"server-{self.starts}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edms.cli", "serve", "--host", LOOPBACK, "--port", str(self.port), "--threads", "8"],
            env=self.environment(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return self

    def wait_ready(self, timeout: float | None = None) -> Self:
        """Wait until the process answers the API (`ready`); stopped, and RuntimeError with its log, when it ends
        or does not answer within `timeout` seconds (`ready_timeout`)."""
        assert self.process is not None, f"{self.name} is not started"
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} ended with {self.process.returncode}: {self.log()}")
            try:
                if self.request("GET", HEALTH_CHECK, timeout=5).status == 200:
                    self.ready = True
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s: {self.log()}")

    def start(self, timeout: float | None = None) -> Self:
        return self.spawn().wait_ready(timeout)

    def kill(self) -> None:
        """SIGKILL: no request finishes, no handler runs, nothing is flushed by the server."""
        assert self.process is not None
        self.ready = False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        self.ready = False
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
