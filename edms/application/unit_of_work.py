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

from edms.errors import AuditedRefusal


@contextmanager
def use_case(session: Session) -> Iterator[Session]:
    """One use case inside the caller's unit of work: all of it, its audited refusal, or nothing."""
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


def complete(session: Session) -> None:
    """Commit the unit of work: the request or command succeeded (or ended in an audited refusal)."""
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

