"""Reading the records of signed-in page sessions (edms.users.sessions changes them)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from edms.users.models import User, WebSession

SIGNED_OUT = "signed_out"
IDLE = "idle"
REPLACED = "replaced"
ACCOUNT_CHANGED = "account_changed"
ENDED_BY_ADMIN = "ended_by_admin"
END_REASONS = (SIGNED_OUT, IDLE, REPLACED, ACCOUNT_CHANGED, ENDED_BY_ADMIN)
# A session's last_seen is written at most once per interval: reading pages costs no write per request.
TOUCH_INTERVAL = timedelta(seconds=60)


def session_hash(sid: str) -> str:
    """What the database keeps of a session id (the cookie carries the id itself)."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def find_session(session: Session, sid: object) -> WebSession | None:
    """The record of the page session whose id is `sid`, ended or not; None for no such session."""
    if not isinstance(sid, str) or not sid or len(sid) > 128:
        return None
    return session.scalar(select(WebSession).where(WebSession.id_sha256 == session_hash(sid)))


def active_sessions(session: Session, now: datetime, idle: timedelta) -> list[WebSession]:
    """Open sessions used within the idle timeout (their last_seen may lag by TOUCH_INTERVAL), by person and
    most recent first."""
    cutoff = now - idle - TOUCH_INTERVAL
    return list(session.scalars(
        select(WebSession).join(User, WebSession.user_id == User.id).options(joinedload(WebSession.user))
        .where(WebSession.ended_at.is_(None), WebSession.last_seen_at >= cutoff)
        .order_by(User.printed_name, WebSession.last_seen_at.desc(), WebSession.id.desc())).unique())
