"""The production layout of docs/deployment.md, on one machine: PostgreSQL, two `edms serve` nodes with data
directories of their own, and what they share, all on the loopback interface.

Which infrastructure the nodes use is decided in ONE place, `node_environment()`, from the `Switches`
below. Each switch stands for a part of issue 16 built beside this harness; when it lands, flipping its
default here (and nothing else) puts every multi-node test on it. Production's choices are the defaults:

- blob_store: "database" (the PostgreSQL store; "s3" an object store); "shared-volume" is the filesystem store
  with each node's <data_dir>/blobs a link to one shared directory, as an NFS volume would be.
- keys: "softhsm" (the organisation's keys in a SoftHSM2 token every node logs in to, EDMS_PKCS11_*);
  "pki-copy" is the encrypted-file PKI made by `edms init` copied into every node's data directory.
- rate_limits: "redis" shares the counts (EDMS_RATE_LIMIT_STORAGE=redis://..., a redis-server started by
  the harness); "memory" lets each node count alone.
- worker: True starts one `edms worker` beside the nodes.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

from edms.config import Settings, load_settings
from tests.cluster.postgres import Cluster
from tests.support.server import _OPENER, LOOPBACK, Server, free_port


@dataclass(frozen=True)
class Switches:
    blob_store: str = "database"  # or "s3"; "shared-volume" = one NFS-like directory, filesystem store
    keys: str = "softhsm"  # "pki-copy": the encrypted-file PKI copied to every node
    rate_limits: str = "redis"  # "memory": each node counts alone
    worker: bool = True  # one `edms worker` beside the nodes (exports, outbox, escalations as jobs)


SWITCHES = Switches()
_ENVIRONMENT_LOCK = threading.Lock()


@dataclass
class Deployment:
    """What every node shares: the database, the secrets, the witness volume (and, today, the blob volume)."""

    root: Path
    database: Cluster
    switches: Switches = SWITCHES
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    pki_passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    nodes: list[Node] = field(default_factory=list)
    worker: WorkerProcess | None = None
    redis_url: str = ""
    hsm_environment: dict[str, str] = field(default_factory=dict)

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def witness_file(self) -> Path:
        return self.shared / "witness" / "tree-heads.jsonl"

    @property
    def console_dir(self) -> Path:
        """The operator's console: where `edms init` makes the PKI and `edms verify` runs."""
        return self.root / "console"

    def settings(self, data_dir: Path | None = None) -> Settings:
        """The settings a node (or the console) reads from the environment `node_environment` gives it: the
        test's own connections and checks see the same database, blob store and keys as the nodes."""
        with _ENVIRONMENT_LOCK, mock.patch.dict(os.environ, node_environment(self, data_dir or self.console_dir),
                                                clear=True):
            return load_settings()

    def edms(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`edms <args>` at the console; its output is returned, never raised."""
        return subprocess.run([sys.executable, "-m", "edms.cli", *args], env=node_environment(self, self.console_dir),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> None:
        """Migrate once and make the PKI (`edms init`), never by a node at its start."""
        self.console_dir.mkdir(parents=True)
        self.witness_file.parent.mkdir(parents=True)
        _provide_data_dir(self, self.console_dir, first=True)
        done = self.edms("init")
        assert done.returncode == 0, done.stdout + done.stderr

    def add_node(self, name: str) -> Node:
        data_dir = self.root / name
        data_dir.mkdir()
        _provide_data_dir(self, data_dir, first=False)
        node = Node(settings=self.settings(data_dir), log_dir=data_dir, name=name, deployment=self)
        self.nodes.append(node)
        return node

    def start_worker(self) -> WorkerProcess | None:
        """One `edms worker` beside the nodes, when that switch is on (else None: the nodes do the work)."""
        if not self.switches.worker:
            return None
        data_dir = self.root / "worker"
        data_dir.mkdir()
        _provide_data_dir(self, data_dir, first=False)
        self.worker = WorkerProcess(self, data_dir).start()
        return self.worker

    def up(self) -> list[Node]:
        return [node for node in self.nodes if node.ready and node.process is not None and node.process.poll() is None]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.worker is not None:
            self.worker.stop()


def start_softhsm(deployment: Deployment) -> None:
    """A SoftHSM2 token of the deployment's own for the organisation's keys (only when that switch is on): made
    by the security officer's `softhsm2-util --init-token`, before `edms init` generates the keys inside it."""
    from tests.support.softhsm import SoftHsm, require_softhsm  # the PKCS#11 part of issue 16

    softhsm = SoftHsm.create(deployment.root / "softhsm", require_softhsm())
    deployment.hsm_environment = softhsm.environment(softhsm.new_token("edms-cluster"))


def start_redis(deployment: Deployment) -> subprocess.Popen[bytes]:
    """A redis-server on a free loopback port for the shared rate limits (only when that switch is on)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            raise RuntimeError("redis-server is missing (Debian package redis-server; scripts/setup.sh)")
        import pytest

        pytest.skip("redis-server is not installed")
    port = free_port()
    directory = deployment.root / "redis"
    directory.mkdir()
    process = subprocess.Popen([binary, "--bind", LOOPBACK, "--port", str(port), "--dir", str(directory), "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deployment.redis_url = f"redis://{LOOPBACK}:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("redis-server did not start")


def node_environment(deployment: Deployment, data_dir: Path) -> dict[str, str]:
    """THE one place where a node's (or the console's) configuration is built: EDMS_* variables only, as an
    operator sets them (docs/deployment.md). Every switch of issue 16 is decided here."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("EDMS_")}
    env.update(
        EDMS_ENV="testing",  # cheap password hashing; everything else as in production
        EDMS_DATABASE_URL=deployment.database.edms_url(),
        EDMS_DATA_DIR=str(data_dir),
        EDMS_SECRET_KEY=deployment.secret_key,  # the same on every node: sessions and CSRF from any node
        EDMS_PKI_PASSPHRASE=deployment.pki_passphrase,
        EDMS_WITNESS_FILE=str(deployment.witness_file),  # one shared volume, never a node's own disk
        PYTHONUNBUFFERED="1",
    )
    switches = deployment.switches
    # Ignored by an edms without the setting; with it, "shared-volume" keeps the files on the shared directory.
    env["EDMS_BLOB_STORE"] = "filesystem" if switches.blob_store == "shared-volume" else switches.blob_store
    if switches.keys == "softhsm":
        env.update(deployment.hsm_environment)  # SOFTHSM2_CONF, EDMS_PKCS11_MODULE, _TOKEN_LABEL, _PIN
    if switches.rate_limits == "redis":
        env["EDMS_RATE_LIMIT_STORAGE"] = deployment.redis_url
    return env


def _provide_data_dir(deployment: Deployment, data_dir: Path, *, first: bool) -> None:
    """What a node's data directory holds before it starts, as long as some state still lives on disk."""
    if deployment.switches.blob_store == "shared-volume":
        (deployment.shared / "blobs").mkdir(parents=True, exist_ok=True)
        (data_dir / "blobs").symlink_to(deployment.shared / "blobs", target_is_directory=True)
    if deployment.switches.keys == "pki-copy" and not first:
        shutil.copytree(deployment.console_dir / "pki", data_dir / "pki")


@dataclass
class Node(Server):
    """One `edms serve` process of the deployment, with the environment `node_environment` gives it; started
    and health-checked as every test server is (tests/support/server.py `Server`): `start_nodes` spawns them side
    by side, then waits for each (`wait_ready`)."""

    name: str = "node"
    deployment: Deployment | None = None
    ready_timeout: float = 90

    def environment(self) -> dict[str, str]:
        assert self.deployment is not None
        return node_environment(self.deployment, self.settings.data_dir)

    def upload(self, path: str, filename: str, data: bytes, *, token: str, timeout: float = 30) -> tuple[int, dict]:
        """A multipart/form-data POST of one file in the part named `file`."""
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base + path, data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}",
            "Accept": "application/json"})
        try:
            with _OPENER.open(request, timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw)
            except ValueError:
                return error.code, {"raw": raw.decode(errors="replace")}


@dataclass
class WorkerProcess:
    """The `edms worker` process: killed with SIGKILL and started again like a node."""

    deployment: Deployment
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> WorkerProcess:
        assert self.process is None
        self.starts += 1
        with open(self.data_dir / f"worker-{self.starts}.log", "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "edms.cli", "worker"],
                                            env=node_environment(self.deployment, self.data_dir), stdout=log,
                                            stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


def start_nodes(deployment: Deployment, names: tuple[str, ...] = ("node-a", "node-b")) -> list[Node]:
    """Start every node at once (they start in parallel, as behind a load balancer), then wait for each."""
    nodes = [deployment.add_node(name).spawn() for name in names]
    return [node.wait_ready() for node in nodes]


def restart_against(deployment: Deployment, database: Cluster) -> None:
    """Point every node at another database (its new URL in their environment) and restart them."""
    deployment.database = database
    for node in deployment.nodes:
        node.stop()
        node.settings = deployment.settings(node.settings.data_dir)
    if deployment.worker is not None:
        deployment.worker.stop()
        deployment.worker.start()
    for node in deployment.nodes:
        node.spawn()
    for node in deployment.nodes:
        node.wait_ready()


__all__ = ["SWITCHES", "Deployment", "Node", "Switches", "WorkerProcess", "free_port", "node_environment",
           "restart_against", "start_nodes", "start_redis", "start_softhsm"]
