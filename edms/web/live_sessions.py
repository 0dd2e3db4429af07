"""The server's record of the signed-in page session behind each request (edms.users.sessions): whichever
node answers, a session signed out, timed out, or ended by an administrator on another node no longer signs
anyone in here. The person and the record are read in one statement (edms.users.session_records.Reader)."""
from __future__ import annotations

from flask import g, session

from edms.users.models import WebSession
from edms.users.session_records import Reader, reader_with_session
from edms.users.sessions import session_current
from edms.web.runtime import db

_READER = "edms_reader"


def signed_in_reader(user_id: int) -> Reader | None:
    """User `user_id` as the reader of this request, if the cookie's session still signs them in: the account
    active and not locked, the session's epoch the account's, and an open server record of that session that is
    theirs. The row is kept for the request in `g`."""
    reader = reader_with_session(db(), user_id, session.get("sid"))
    if reader is None or not reader.active or reader.locked_at is not None \
            or not session_current(reader, session.get("epoch")) or reader.session_ended_at is not None:
        return None  # ended on the server: signed out, timed out, ended by an administrator, password changed...
    setattr(g, _READER, reader)
    return reader


def current_reader() -> Reader | None:
    """The reader row of this request's signed-in session, once the user was loaded."""
    found: Reader | None = g.get(_READER)
    return found


def current_web_session() -> WebSession | None:
    """The record of this request's signed-in session (loaded from the database when first asked for)."""
    reader = current_reader()
    if reader is None:
        return None
    if "web_session" not in g:
        g.web_session = db().get(WebSession, reader.session_id)
    record: WebSession | None = g.web_session
    return record
