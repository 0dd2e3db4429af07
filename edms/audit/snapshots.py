"""Several read-only connections that see one and the same state of the database, so that checks of one
integrity run can read it at the same time (the audit chain on one core while the signature workers judge on
the others) and still report on one snapshot.

- PostgreSQL: the first connection's REPEATABLE READ, READ ONLY transaction exports its snapshot
  (`pg_export_snapshot`); each other one begins by `SET TRANSACTION SNAPSHOT` to it.
- SQLite (WAL): a read transaction's snapshot is fixed by its first read. The readers make that first read
  while the run holds the database's write lock for a moment (`BEGIN IMMEDIATE`, taken as the application's
  writers take it: they wait, nothing is written), so no transaction can commit between their first reads.

`shared_snapshots` yields None when that cannot be had (e.g. a database file the process may not write):
the caller then reads through one connection, one check after another.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

_SNAPSHOT_ID = re.compile("[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


@contextmanager
def shared_snapshots(engine: Engine, count: int) -> Iterator[list[Connection] | None]:
    """`count` read-only connections in one snapshot, each usable from another thread, or None."""
    with ExitStack() as stack:
        if engine.dialect.name == "sqlite":
            connections = _sqlite_snapshots(stack, engine, count)
        elif engine.dialect.name == "postgresql":
            connections = _postgres_snapshots(stack, engine, count)
        else:
            connections = None
        yield connections


def _sqlite_snapshots(stack: ExitStack, engine: Engine, count: int) -> list[Connection] | None:
    # Used from other threads than the one opening them (one thread each: never two at once).
    reader = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30, "check_same_thread": False})
    stack.callback(reader.dispose)

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA query_only = ON")

    @event.listens_for(reader, "begin")
    def _deferred_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN DEFERRED")

    connections = []
    for _ in range(count):
        connection = stack.enter_context(reader.connect())
        stack.enter_context(connection.begin())
        connections.append(connection)
    # The write lock, taken on a connection of its own, held while the readers fix their snapshots: microseconds.
    locker = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30})
    stack.callback(locker.dispose)
    lock = locker.raw_connection()
    try:
        sqlite = lock.driver_connection
        assert sqlite is not None  # a connection just checked out
        sqlite.isolation_level = None  # transactions only where we say BEGIN
        try:
            sqlite.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:  # e.g. a file this process may only read: no shared snapshot
            return None
        try:
            for connection in connections:
                connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()  # its snapshot is fixed now
        finally:
            sqlite.execute("ROLLBACK")
    finally:
        lock.close()
    return connections


def _postgres_snapshots(stack: ExitStack, engine: Engine, count: int) -> list[Connection]:
    connections = []
    snapshot = None
    for _ in range(count):
        connection = stack.enter_context(
            engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True))
        stack.enter_context(connection.begin())
        if snapshot is None:
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
        else:
            if not _SNAPSHOT_ID.fullmatch(snapshot):
                raise ValueError(f"unexpected snapshot identifier {snapshot!r}")
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")  # a utility statement: no parameters
        connections.append(connection)
    return connections
