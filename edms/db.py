"""Engine, sessions, the declarative base and a UTC-only datetime column type."""
from __future__ import annotations

import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, Engine, MetaData, Select, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from edms import sqlite_gate
from edms.timeutil import require_aware

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; refuses naive datetimes; always returns aware UTC values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        aware = require_aware(value)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Connections kept open per process: the server's request threads (8 by default) and its job thread each hold one
# at a time. With fewer kept (SQLAlchemy's default is 5), every request past the fifth opened a connection and
# closed it again on return: on PostgreSQL a new server process per request, on SQLite the connection's pragmas.
POOL_SIZE = 12
PING_AFTER_IDLE_SECONDS = 1.0  # a connection back in the pool for less long is used without a ping


def make_engine(url: str, **kwargs) -> Engine:
    kwargs.setdefault("pool_size", POOL_SIZE)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _serialise_sqlite_writers(engine, sqlite_gate.install(engine))
        return engine
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    return engine


_RETURNED = "edms.returned_at"  # connection_record.info: when the connection was last put back in the pool


def _ping_after_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, as `pool_pre_ping` but only for a connection that has been idle: a
    connection is pinged at check-out unless it was returned to the pool within `PING_AFTER_IDLE_SECONDS`
    (on a busy server, nearly every check-out: a round trip to the server per request saved). One that fails
    the ping is replaced and the pool's older connections with it, as `pool_pre_ping` does. A connection
    that dies within that second (a database restart under load) fails the statement that uses it; SQLAlchemy
    then invalidates the whole pool, so the next check-outs open new connections."""
    dialect = engine.dialect

    @event.listens_for(engine, "connect")  # a connection just opened needs no ping either
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection, record) -> None:
        if record is not None:
            record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error
            raise


def _serialise_sqlite_writers(engine: Engine, gate: sqlite_gate.WriterGate) -> None:
    # pysqlite's deferred transactions can deadlock two writers that both read first;
    # BEGIN IMMEDIATE takes the write lock up front so the audit chain stays one line.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # A read-only unit of work (`reading(engine)`) begins DEFERRED: in WAL mode it reads its snapshot
        # without the write lock, so reads never queue behind a writer (nor writers behind reads). A writing one
        # takes the process's turn first (edms.sqlite_gate: threads hand the lock on in order instead of sleeping
        # in SQLite's busy handler), then SQLite's lock. Sent on the DBAPI connection itself: the statement has no
        # parameters and no result, and SQLAlchemy's execution machinery cost every request a third of its SQL time.
        dbapi_connection = connection.connection.driver_connection
        if connection.get_execution_options().get(READ_ONLY):
            dbapi_connection.execute("BEGIN")
            return
        gate.enter(dbapi_connection)
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            gate.leave(dbapi_connection)
            raise


READ_ONLY = "edms_read_only"


def reading(engine: Engine) -> Engine:
    """`engine` for a unit of work expected only to read (a GET): on SQLite its transactions begin DEFERRED,
    taking no write lock; on PostgreSQL they are the engine's own (READ COMMITTED), only marked as reads, so one
    that wrote nothing ends with a rollback rather than a commit (`wrote_nothing`). It shares `engine`'s pool
    and events. A unit of work that turns out to write first calls
    `edms.application.unit_of_work.writes_ahead`, which takes SQLite's write lock in the same transaction
    before anything is written."""
    if engine.dialect.name not in ("sqlite", "postgresql") or is_reading(engine):
        return engine
    found = _READING.get(engine)
    if found is None:
        found = _READING[engine] = engine.execution_options(**{READ_ONLY: True})
    return found


_READING: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def is_reading(bind: object) -> bool:
    """Whether `bind` is an engine from `reading` (whose SQLite transactions take no write lock)."""
    return isinstance(bind, Engine) and bool(bind.get_execution_options().get(READ_ONLY))


class _Plan:
    """A read statement compiled once for one dialect: its SQL, the order of its parameters (for a positional
    driver), their bind processors, and (from its first result) the result processors of its columns and the
    type of its rows."""

    __slots__ = ("sql", "names", "positional", "binds", "columns", "result", "row")

    def __init__(self, statement: Select, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = bool(dialect.positional)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ()) if self.positional else ()
        self.binds: dict[str, Any] = dict(compiled._bind_processors)
        self.columns = list(statement.selected_columns)
        self.result: list[Callable[[Any], Any] | None] | None = None
        self.row: Any = namedtuple("Row", [column.key for column in self.columns])  # type: ignore[misc]

    def parameters(self, values: Mapping[str, Any]) -> Any:
        processed = {name: (self.binds[name](value) if name in self.binds else value) for name, value in values.items()}
        return tuple(processed[name] for name in self.names) if self.positional else processed

    def rows(self, dialect: Dialect, description: Sequence[Sequence[Any]], data: Sequence[Sequence[Any]]) -> list[Any]:
        processors = self.result
        if processors is None:  # as SQLAlchemy's result does: each column's processor for the driver's type
            processors = self.result = [column.type._cached_result_processor(dialect, found[1])
                                        for column, found in zip(self.columns, description, strict=True)]
        make = self.row._make
        if not any(processors):
            return [make(row) for row in data]
        return [make([value if process is None else process(value) for process, value in zip(processors, row, strict=True)])
                for row in data]


_PLANS: weakref.WeakKeyDictionary[Dialect, dict[int, tuple[Select, _Plan]]] = weakref.WeakKeyDictionary()


def one_statement(engine: Engine, statement: Select, parameters: Mapping[str, Any]) -> list[Any]:
    """The rows of ONE read statement, run outside any transaction on a connection of `engine`'s pool: no
    Session, no SQLAlchemy Connection, no BEGIN and no ROLLBACK. A single SELECT is atomic and reads one
    snapshot on its own (SQLite in autocommit mode: its own read transaction; PostgreSQL in autocommit: the
    statement's snapshot, as each statement of a READ COMMITTED transaction has), so it reads exactly what the
    same statement reads as the first of a unit of work; on PostgreSQL it is one round trip instead of three
    (BEGIN, the statement, ROLLBACK). The statement is compiled once per dialect; its values pass through the
    bind and result processors of its columns' types, as SQLAlchemy's own execution does, and its rows are
    named tuples (attribute per column). The pool's events run as for any check-out (the ping of an idle
    PostgreSQL connection); a connection found dead invalidates the pool as SQLAlchemy's execution does. For a
    read that decides whether its request needs a unit of work at all (edms.api.blueprint: a bearer read)."""
    dialect = engine.dialect
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS.setdefault(dialect, {})
    found = plans.get(id(statement))
    if found is None or found[0] is not statement:
        found = plans[id(statement)] = (statement, _Plan(statement, dialect))
    plan = found[1]
    if dialect.name not in ("sqlite", "postgresql"):
        with engine.connect() as connection:
            return [plan.row._make(row) for row in connection.execute(statement, dict(parameters)).all()]
    pooled = engine.raw_connection()
    driver: Any = pooled.driver_connection
    cursor = None
    try:
        if dialect.name == "postgresql":
            driver.autocommit = True  # psycopg: no BEGIN before the statement (a local setting, no round trip)
        cursor = pooled.cursor()
        cursor.execute(plan.sql, plan.parameters(parameters))
        data = cursor.fetchall()
        return plan.rows(dialect, cursor.description, data)
    except dialect.loaded_dbapi.Error as error:
        disconnected = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if disconnected:
            engine.pool._invalidate(pooled, error)  # as Connection._handle_dbapi_exception: the pool's older ones too
        raise exc.DBAPIError.instance(plan.sql, parameters, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=disconnected) from error
    finally:
        if cursor is not None:
            cursor.close()
        if dialect.name == "postgresql" and pooled.is_valid:
            driver.autocommit = False
        pooled.close()  # back to the pool (its reset: a rollback that finds no transaction, no round trip)


FLUSHED = "edms.flushed"  # session.info: the unit of work has flushed changes to the database


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "after_flush", _flushed)
    return factory


def _flushed(session: Session, _context: object) -> None:
    session.info[FLUSHED] = True


def wrote_nothing(session: Session) -> bool:
    """Whether a unit of work is still a read: on its reading engine (no use case moved it to the writing one,
    edms.application.unit_of_work.writes_ahead), nothing flushed, nothing pending."""
    return (is_reading(session.bind) and not session.info.get(FLUSHED)
            and not (session.new or session.dirty or session.deleted))


SHARED = "edms.shared_commit"  # session.info: what the session leaves for after the COMMIT of a transaction it shares


def shares_commit(session: Session) -> dict[str, object] | None:
    """When `session` runs in a transaction it shares with others' sessions (a SAVEPOINT of it,
    edms.application.write_turn): the dict its after-commit work is merged into, done once after that transaction's
    one COMMIT (`after_shared_commit`). None for a session that commits its own transaction."""
    return session.info.get(SHARED)


_AFTER_SHARED: weakref.WeakKeyDictionary[sessionmaker[Session], list[Callable[[dict[str, object]], None]]] = (
    weakref.WeakKeyDictionary())


def after_shared_commit(factory: sessionmaker[Session], work: Callable[[dict[str, object]], None]) -> None:
    """Run `work` with the merged dict (`shares_commit`) after each COMMIT of a shared transaction of `factory`'s
    sessions: what an `after_commit` listener does for a session's own COMMIT (the witness, checkpoints)."""
    _AFTER_SHARED.setdefault(factory, []).append(work)


def run_after_shared_commit(factory: sessionmaker[Session], shared: dict[str, object]) -> None:
    for work in _AFTER_SHARED.get(factory, ()):
        work(shared)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
