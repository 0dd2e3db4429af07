"""PostgreSQL clusters for the multi-node tests: a primary, and a synchronous standby streaming from it.

Built on the suite's throw-away server (tests/support/postgres.py: initdb and pg_ctl from Debian's
`postgresql` package, in a temporary directory, as the `postgres` system user when run as root), but
with the durability a production primary has: `synchronous_commit` is not switched off, and a primary
with a standby waits for it to apply each commit (`remote_apply`) before answering the client.
"""
from __future__ import annotations

import shutil
import subprocess
import time

import psycopg

from tests.support.postgres import PostgresServer

# What every cluster of these tests runs with. fsync stays off: no test crashes the machine, only
# processes, and the kernel's page cache survives a killed process.
COMMON_OPTIONS = "-c listen_addresses='' -c fsync=off -c max_connections=200"
DATABASE = "edms"


class Cluster(PostgresServer):
    """One PostgreSQL cluster on a free port, reachable through a Unix socket in its own directory."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def _options(self, extra: str = "") -> str:
        return f"-p {self.port} -k {self.root} {COMMON_OPTIONS} -c cluster_name={self.name} {extra}".strip()

    def _start_server(self, extra: str = "") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-o", self._options(extra), "-l", str(self.root / "log"), "-w",
                  "-t", "120", "start")

    def start(self, *, synchronous_standby: bool = False) -> Cluster:  # type: ignore[override]
        """initdb and start; with `synchronous_standby`, every commit waits until a standby has applied it."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale")
        extra = "-c synchronous_standby_names='*' -c synchronous_commit=remote_apply" if synchronous_standby else ""
        self._start_server(extra)
        return self

    def start_as_standby_of(self, primary: Cluster) -> Cluster:
        """A physical copy of `primary` (pg_basebackup -R), started in recovery, streaming from it."""
        self._run("pg_basebackup", "-D", str(self.data), "-h", str(primary.root), "-p", str(primary.port),
                  "-U", "postgres", "-X", "stream", "-R", "-c", "fast")
        self._start_server()
        return self

    def dsn(self, database: str = "postgres") -> str:
        return f"host={self.root} port={self.port} user=postgres dbname={database}"

    def edms_url(self) -> str:
        return self.url(DATABASE)

    def execute(self, statement: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.dsn(database), autocommit=True) as connection:
            cursor = connection.execute(statement)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def create_database(self) -> None:
        self.execute(f"CREATE DATABASE {DATABASE}")

    def wait_for_synchronous_standby(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.execute("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"no synchronous standby streams from {self.name} after {timeout} s")

    def in_recovery(self) -> bool:
        return bool(self.execute("SELECT pg_is_in_recovery()")[0][0])

    def promote(self, timeout: float = 60) -> None:
        """pg_ctl promote, waiting until the standby accepts writes."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", str(int(timeout)), "promote")
        deadline = time.monotonic() + timeout
        while self.in_recovery():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} still in recovery {timeout} s after pg_ctl promote")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stopped if still running, and its directory removed (the fixtures' finaliser: always safe)."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped (stop_now) or never started
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def stop_now(self) -> None:
        """The server stops at once (`-m immediate`: as if the process was killed); its files are kept."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
