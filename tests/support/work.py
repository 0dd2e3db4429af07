"""One unit of work as the pages and the API run it around a signing operation."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from edms.workflow.refusals import SigningRefused

T = TypeVar("T")


def unit_of_work(sessions: sessionmaker[Session], action: Callable[[Session], T]) -> T:
    """Commit on success; a signing refusal is committed too (its audit event must stay, 21 CFR 11.10(e))
    and then raised; anything else is rolled back."""
    session = sessions()
    try:
        result = action(session)
        session.commit()
        return result
    except SigningRefused:
        session.commit()
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
