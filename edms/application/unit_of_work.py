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

from sqlalchemy.orm import Session, sessionmaker

from edms.db import is_reading, wrote_nothing
from edms.errors import AuditedRefusal

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


def writes_ahead(session: Session) -> None:
    """The unit of work will write: a read-only one (a GET on SQLite, begun DEFERRED without the write lock,
    edms.db.reading) ends its read transaction, which wrote nothing, and continues on the writing engine, whose
    transactions take the write lock first (BEGIN IMMEDIATE), so the audit chain's head it reads is the one it
    extends. Objects already loaded (the caller, read moments before) are kept as read, as in any unit of
    work: every query the use case makes reads the new transaction, and every check that matters is made
    there (the chain's head, the version's state). A no-op for every other unit of work."""
    writer = session.info.get(WRITER)
    if writer is None or not is_reading(session.bind):
        return
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            return  # never reached by a GET; the write then upgrades the lock itself (or fails, never forks)
        session.commit()  # a read transaction: nothing written, nothing to keep
    session.bind = writer


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

