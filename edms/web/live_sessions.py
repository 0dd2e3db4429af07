"""The server's record of the signed-in page session behind each request (edms.users.sessions): whichever
node answers, a session signed out, timed out, or ended by an administrator on another node no longer signs
anyone in here."""
from __future__ import annotations

from flask import g, session

from edms.users.models import User, WebSession
from edms.users.session_records import find_session
from edms.web.runtime import db


def session_alive(user: User) -> bool:
    """Whether the cookie's session has an open record for `user` (kept for the request in `g`)."""
    record = find_session(db(), session.get("sid"))
    if record is None or not record.open or record.user_id != user.id:
        return False
    g.web_session = record
    return True


def current_web_session() -> WebSession | None:
    """The record of this request's signed-in session, once the user was loaded."""
    record: WebSession | None = g.get("web_session")
    return record
