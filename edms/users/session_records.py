"""Reading the records of signed-in page sessions (edms.users.sessions changes them)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from edms.users.models import User, UserRole, WebSession

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


@dataclass(frozen=True, slots=True)
class Reader:
    """The person behind a page request and the record of their page session, read in one statement: what
    every page asks of its reader (names, language, zone, roles, the account's and the session's state)."""

    id: int
    username: str
    printed_name: str
    language: str
    timezone: str
    active: bool
    locked_at: datetime | None
    access_expires_at: datetime | None
    must_change_password: bool
    password_changed_at: datetime | None
    session_epoch: int
    roles: frozenset[str]
    session_id: int  # the WebSession's row id
    session_last_seen_at: datetime
    session_ended_at: datetime | None


_users, _grants, _web_sessions = User.__table__, UserRole.__table__, WebSession.__table__
# Built once (its compiled form is cached by the engine): the user, their roles (one row per role, or one row
# with none) and the session record with that id hash, which must be the user's own.
_READER = (
    select(_users.c.id, _users.c.username, _users.c.printed_name, _users.c.language, _users.c.timezone,
           _users.c.active, _users.c.locked_at, _users.c.access_expires_at, _users.c.must_change_password,
           _users.c.password_changed_at, _users.c.session_epoch, _grants.c.role,
           _web_sessions.c.id.label("session_id"), _web_sessions.c.last_seen_at, _web_sessions.c.ended_at)
    .select_from(_users.join(_web_sessions, _web_sessions.c.user_id == _users.c.id)
                 .outerjoin(_grants, _grants.c.user_id == _users.c.id))
    .where(_users.c.id == bindparam("user_id"), _web_sessions.c.id_sha256 == bindparam("digest"))
)


def reader_with_session(session: Session, user_id: int, sid: object) -> Reader | None:
    """User `user_id` with their roles and the record of the page session `sid`, when that record is theirs
    (ended or not); None otherwise (no such user, no such session, another person's session). One Core
    statement on the session's connection, nothing in the ORM identity map."""
    if not isinstance(sid, str) or not sid or len(sid) > 128:
        return None
    rows = session.connection().execute(_READER, {"user_id": user_id, "digest": session_hash(sid)}).all()
    if not rows:
        return None
    first = rows[0]
    return Reader(
        id=first.id, username=first.username, printed_name=first.printed_name, language=first.language,
        timezone=first.timezone, active=first.active, locked_at=first.locked_at,
        access_expires_at=first.access_expires_at, must_change_password=first.must_change_password,
        password_changed_at=first.password_changed_at, session_epoch=first.session_epoch,
        roles=frozenset(row.role for row in rows if row.role is not None), session_id=first.session_id,
        session_last_seen_at=first.last_seen_at, session_ended_at=first.ended_at)


def active_sessions(session: Session, now: datetime, idle: timedelta) -> list[WebSession]:
    """Open sessions used within the idle timeout (their last_seen may lag by TOUCH_INTERVAL), by person and
    most recent first."""
    cutoff = now - idle - TOUCH_INTERVAL
    return list(session.scalars(
        select(WebSession).join(User, WebSession.user_id == User.id).options(joinedload(WebSession.user))
        .where(WebSession.ended_at.is_(None), WebSession.last_seen_at >= cutoff)
        .order_by(User.printed_name, WebSession.last_seen_at.desc(), WebSession.id.desc())).unique())
