"""One process's SQLite writers hand the write lock on in order, instead of polling for it.

SQLite has one write lock per database. A connection that asks for it while another holds it waits in SQLite's
busy handler, which sleeps and tries again (1, 2, 5, 10 ... 100 ms): under many threads of one server the lock
then stays free for milliseconds at a time while every waiter sleeps, and the threads queue behind the sleeps,
not behind the work. The gate is a lock of the process that every write transaction of an engine takes just
before SQLite's (`BEGIN IMMEDIATE`, or a read transaction's upgrade) and gives back just after its COMMIT or
ROLLBACK: the threads of one process wait on it and the next one goes on as soon as the previous one
has committed. SQLite's own lock and busy handler are unchanged underneath (other processes: the CLI, a second
server), so nothing about what is written, when it is durable or in which order changes: the gate only orders
waits that SQLite would have made anyway.

A thread never waits for the gate while it holds it through another connection (SQLite decides then, as
before), and a wait longer than SQLite's own busy timeout goes on to SQLite without the gate (its time-out
error, as before, instead of a wait without end).
"""
from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, event

WAIT_SECONDS = 30.0  # as the connections' busy_timeout


class WriterGate:
    """The process's turn at one SQLite database's write lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None  # the DBAPI connection whose write transaction holds the gate
        self._thread: int | None = None
        self.waits = 0  # write transactions that found the gate taken (for benchmarks)

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for the gate before `dbapi_connection` asks SQLite for the write lock."""
        if self._holder is _raw(dbapi_connection) or self._thread == threading.get_ident():
            return  # this thread already holds it (another connection): SQLite decides, as without the gate
        if not self._lock.acquire(blocking=False):
            self.waits += 1
            if not self._lock.acquire(timeout=WAIT_SECONDS):
                return  # SQLite's busy handler and time-out decide, as without the gate
        self._hold(dbapi_connection)

    def try_enter(self, dbapi_connection: Any) -> bool:
        """Take the gate for `dbapi_connection` only if it is free now (a read transaction's upgrade, which SQLite
        refuses at once rather than wait: waiting could deadlock)."""
        if self._holder is _raw(dbapi_connection):
            return True
        if self._thread == threading.get_ident():
            return True  # the thread's other connection holds it: SQLite decides
        if not self._lock.acquire(blocking=False):
            return False
        self._hold(dbapi_connection)
        return True

    def adopt(self, dbapi_connection: Any) -> None:
        """The calling thread now uses `dbapi_connection`, whose write transaction holds the gate (a transaction
        handed from thread to thread, edms.application.write_turn): the thread counts as the holder."""
        if self._holder is _raw(dbapi_connection):
            self._thread = threading.get_ident()

    def leave(self, dbapi_connection: Any) -> None:
        """`dbapi_connection`'s transaction ended (COMMIT or ROLLBACK done): the next writer goes on."""
        dbapi_connection = _raw(dbapi_connection)
        if self._holder is not dbapi_connection:
            return
        self._holder, self._thread = None, None
        self._lock.release()

    def _hold(self, dbapi_connection: Any) -> None:
        self._holder, self._thread = _raw(dbapi_connection), threading.get_ident()


def _raw(connection: Any) -> Any:
    """The DBAPI connection itself (the dialect's do_commit is handed the pool's proxy of it)."""
    return getattr(connection, "dbapi_connection", None) or connection


_GATE = "edms_writer_gate"


def install(engine: Engine) -> WriterGate:
    """Give `engine` (SQLite) a gate: its connections leave it after each COMMIT and ROLLBACK."""
    gate = WriterGate()
    engine.dialect.__dict__[_GATE] = gate
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            gate.leave(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            gate.leave(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]

    def _gone(dbapi_connection: Any, *_args: Any) -> None:
        gate.leave(dbapi_connection)  # closed or invalidated in its transaction: SQLite ended it

    for name in ("close", "invalidate", "close_detached"):
        event.listen(engine, name, _gone)
    return gate


def gate_of(engine: Engine) -> WriterGate | None:
    """The gate of `engine` (or of the engine `reading(engine)` was made from: they share the dialect)."""
    return engine.dialect.__dict__.get(_GATE)
