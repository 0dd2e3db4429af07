"""The one transaction policy of every request and every command.

A request or command owns one session (one unit of work). Each use case runs inside `use_case(session)`,
a SAVEPOINT: on success it is released; on an audited refusal (`edms.errors.AuditedRefusal`, e.g. a
refused signature with its wrong-credential count) it is released too, so the refusal's audit record
stays; on any other exception it is rolled back, and the exception propagates. At the end, `complete`
commits everything the request or command did, or `abandon` rolls it back when it failed.

Long jobs that commit item by item (outbox delivery, an export writing its own event) first `complete`
the unit of work they were called in and then open units of their own with `command(sessions)`.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from edms.db import FLUSHED, is_reading, wrote_nothing
from edms.errors import AuditedRefusal
from edms.sqlite_gate import gate_of

WRITER = "edms.writer"  # session.info: the engine a read-only unit of work moves to when it must write


@contextmanager
def use_case(session: Session) -> Iterator[Session]:
    """One use case inside the caller's unit of work: all of it, its audited refusal, or nothing."""
    writes_ahead(session)
    savepoint = session.begin_nested()
    try:
        yield session
    except AuditedRefusal:
        if savepoint.is_active:
            savepoint.commit()
        raise
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    savepoint.commit()


class StaleRead(Exception):
    """A read-only unit of work on SQLite could not take the write lock in its own transaction: another writer
    holds it or committed since this unit of work's snapshot (SQLITE_BUSY / SQLITE_BUSY_SNAPSHOT). Nothing was
    written; the caller rolls the unit of work back and runs it again from the start (`must_rerun`)."""


RERUN = "edms.rerun"  # session.info: the unit of work failed with StaleRead and must be run again


def writes_ahead(session: Session) -> None:
    """The unit of work will write. A read-only one (a GET on SQLite, begun DEFERRED without the write lock,
    edms.db.reading) takes the write lock now, in the SAME transaction: what it has read and what it writes
    are one snapshot, one transaction, and the audit chain's head is read under the lock (the event extends the
    real head). SQLite grants that upgrade only when no other writer holds the lock or committed since the
    snapshot; otherwise it answers at once (no wait: waiting could deadlock) and this raises `StaleRead`, with
    nothing written: the caller re-runs the whole unit of work (edms.web.runtime.dispatch_with_reruns), the
    last time with the lock taken first. A no-op for every other unit of work (PostgreSQL: the request is one
    transaction from its first read; the chain's own lock serialises the event)."""
    bind = session.bind
    if session.info.get(WRITER) is None or not isinstance(bind, Engine) or not is_reading(bind):
        return
    if session.in_transaction() and session.info.get(_LOCKED) is session.get_transaction():
        return
    session.info[FLUSHED] = True  # it will write: `complete` commits it even if nothing else is flushed
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL: the same transaction writes; the chain's own lock serialises the event
    # This process's turn first (edms.sqlite_gate): taken by another thread, SQLite would refuse the upgrade too.
    gate, dbapi_connection = gate_of(bind), session.connection().connection.dbapi_connection
    if gate is not None and not gate.try_enter(dbapi_connection):
        session.info[RERUN] = True
        raise StaleRead("another writer of this process holds the write lock; run it again")
    try:
        # SQLite has no statement for the upgrade: any write statement takes the lock, one that touches no row
        # changes nothing (and fires no trigger).
        session.execute(_TAKE_WRITE_LOCK)
    except OperationalError as error:
        if gate is not None:
            gate.leave(dbapi_connection)
        if _busy(error):
            session.info[RERUN] = True
            raise StaleRead("another writer committed since this read began; run it again") from error
        raise
    session.info[_LOCKED] = session.get_transaction()


_LOCKED = "edms.write_locked"  # session.info: the (root) transaction that holds the write lock
_TAKE_WRITE_LOCK = text("DELETE FROM audit_event WHERE 0")
_SQLITE_BUSY = 5  # the primary code of SQLITE_BUSY and SQLITE_BUSY_SNAPSHOT (517)


def _busy(error: OperationalError) -> bool:
    code = getattr(error.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == _SQLITE_BUSY


def must_rerun(session: Session) -> bool:
    """Whether the unit of work ended in `StaleRead` (also when a handler turned it into an error response)."""
    return bool(session.info.get(RERUN))


def complete(session: Session) -> None:
    """Commit the unit of work: the request or command succeeded (or ended in an audited refusal). A unit of
    work that wrote nothing (`edms.db.wrote_nothing`: a read) has nothing to commit: its read transaction is
    rolled back (on SQLite a DEFERRED one; on PostgreSQL none was begun)."""
    if wrote_nothing(session):
        session.rollback()
    else:
        session.commit()


def abandon(session: Session) -> None:
    """Roll the unit of work back: the request or command failed."""
    session.rollback()


@contextmanager
def command(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """The unit of work of a CLI command or a job: commit on success, roll back on any error."""
    session = sessions()
    try:
        yield session
        complete(session)
    except AuditedRefusal:
        complete(session)
        raise
    except BaseException:
        abandon(session)
        raise
    finally:
        session.close()

