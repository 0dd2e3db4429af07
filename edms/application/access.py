"""Signing in and out (pages and API tokens), session time-outs, refused API credentials, and a person
changing their own password. Every attempt, failed ones included, stays in the audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from edms.application.reauthentication import confirm_identity
from edms.application.refusal_windows import RefusalWindows
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext, record
from edms.signatures import keys
from edms.timeutil import utc_now
from edms.users import operations as ops
from edms.users.authentication import AuthResult, authenticate
from edms.users.models import User, WebSession
from edms.users.session_records import ACCOUNT_CHANGED, IDLE, SIGNED_OUT, find_session
from edms.users.sessions import (
    end_session_by_administrator,
    end_sessions,
    end_web_session,
    end_web_sessions,
    start_web_session,
    touch_web_session,
)
from edms.users.tokens import issue_token, revoke_token


def sign_in(services: Services, session: Session, ctx: AuditContext, username: str, password: str, *,
            channel: str = "web") -> AuthResult:
    """Check the credentials; the attempt, and a failure's count towards lockout, are recorded either way."""
    with use_case(session):
        return authenticate(session, ctx, services.settings.password, username, password, channel=channel)


def start_session(services: Services, session: Session, ctx: AuditContext, user: User, sid: str, *,
                  user_agent: str, replaces: str | None = None) -> WebSession:
    """The record of a page session that has just signed in (`sid`: its random id, which the cookie carries),
    seen by every app node; a session the same browser still held open (`replaces`) ends as replaced."""
    with use_case(session):
        return start_web_session(session, user, sid, client_addr=ctx.client_addr or "", user_agent=user_agent,
                                 replaces=replaces)


def touch_session(services: Services, session: Session, web_session: WebSession) -> None:
    """The session was used now: its last_seen moves on (written at most once a minute)."""
    with use_case(session):
        touch_web_session(web_session, utc_now())


def sign_out(services: Services, session: Session, ctx: AuditContext, user: User) -> None:
    """The session ends on the server: its cookie, replayed, no longer signs anyone in, on any node."""
    with use_case(session):
        end_web_sessions(session, user, SIGNED_OUT)
        record(session, ctx, "auth.signed_out", "user", user.id)


def time_out(services: Services, session: Session, ctx: AuditContext, user: User, sid: str | None = None) -> None:
    with use_case(session):
        web_session = find_session(session, sid) if sid else None
        if web_session is not None:
            end_web_session(web_session, IDLE)
        record(session, ctx, "auth.session_timeout", "user", user.id,
               reason=f"idle for more than {services.settings.idle_minutes:g} minutes")


def end_session(services: Services, session: Session, ctx: AuditContext, web_session: WebSession,
                reason: str) -> bool:
    """An administrator ends one page session of a person, with a reason (audited as auth.session_ended); the
    person is signed out at their next request, whichever node answers. False when it had already ended."""
    with use_case(session):
        return end_session_by_administrator(session, ctx, web_session, reason)


def refuse_api_request(services: Services, session: Session, ctx: AuditContext, path: str, *, had_token: bool,
                       windows: RefusalWindows[str]) -> None:
    """A request without a valid bearer token (21 CFR 11.10(h)): refused, and audited, the first few of its
    client's window at once and the rest of the window as one event with their count (`RefusalWindows`)."""
    client = ctx.client_addr or "unknown"
    at_once, closed = windows.refuse(client, utc_now())
    with use_case(session):
        for window in closed:
            record(session, ctx, "api.auth_failed", "api", window.key,
                   changes={"count": {"old": None, "new": window.count}},
                   reason=f"{window.count} further requests refused (no valid bearer token, or throttled) from {window.key} "
                          f"between {window.start.isoformat()} and {window.end.isoformat()}")
        if at_once:
            record(session, ctx, "api.auth_failed", "api", path, changes={"count": {"old": None, "new": 1}},
                   reason="unknown, expired or revoked bearer token" if had_token else "missing bearer token")


def refuse_throttled_sign_in(services: Services, session: Session, ctx: AuditContext, username: str, *,
                             whole_client: bool, channel: str,
                             windows: RefusalWindows[tuple[str, str]]) -> None:
    """A sign-in the throttle refused before its password was checked (21 CFR 11.300(d)): audited as
    auth.refused, counted per (user name, client) like refused bearer tokens (`RefusalWindows`): the first few
    of a window at once, each naming the name as typed, the rest as one event with their count. A client
    throttled as a whole (`whole_client`) counts in one window whatever names it tries, so that guessing
    names cannot flood the audit trail."""
    client = ctx.client_addr or "unknown"
    name = "" if whole_client else username.strip().casefold()[:64]
    why = "too many failed sign-ins from this client" if whole_client else "too many failed sign-ins under this user name"
    at_once, closed = windows.refuse((name, client), utc_now())
    with use_case(session):
        for window in closed:
            tried, where = window.key
            under = f"under the user name '{tried}'" if tried else "under any user name"
            record(session, ctx, "auth.refused", "user", None,
                   changes={"username": {"old": None, "new": tried or None},
                            "count": {"old": None, "new": window.count}},
                   reason=f"{window.count} further sign-ins refused by the throttle {under} from {where} "
                          f"between {window.start.isoformat()} and {window.end.isoformat()} (passwords not checked)")
        if at_once:
            record(session, ctx, "auth.refused", "user", None,
                   changes={"username": {"old": None, "new": username[:64]}, "count": {"old": None, "new": 1}},
                   reason=f"throttled: {why} ({channel}, from {client}); password not checked")


def grant_token(services: Services, session: Session, ctx: AuditContext, user: User) -> tuple[str, datetime]:
    with use_case(session):
        return issue_token(session, ctx, user, services.settings.api_token_minutes)


def withdraw_token(services: Services, session: Session, ctx: AuditContext, token: str) -> bool:
    with use_case(session):
        return revoke_token(session, ctx, token)


def change_own_password(services: Services, session: Session, ctx: AuditContext, user: User, current: str,
                        new: str, *, keep: str | None = None) -> None:
    """A wrong current password is refused, audited and counted towards lockout; on success every other
    session and token of the person ends (the caller starts a fresh session for the page in use)."""
    with use_case(session):
        confirm_identity(services, session, ctx, user, current, act="a password change")
        ops.change_own_password(session, ctx, services.settings.password, user, current, new)
        end_sessions(session, ctx, user, "password changed", keep=keep)
        # The person just proved both passwords: their signing key is re-wrapped under the new one.
        keys.rewrap(session, ctx, services.settings.password, user, current, new)


def set_own_language(services: Services, session: Session, ctx: AuditContext, user: User, language: str) -> None:
    """The person's language setting, which lasts across sign-ins (audited as user.language_changed)."""
    with use_case(session):
        ops.set_language(session, ctx, user, language)


def access_expired(services: Services, session: Session, ctx: AuditContext, user: User,
                   sid: str | None = None) -> None:
    """The access period an administrator set is over: the session ends (21 CFR 11.10(d))."""
    with use_case(session):
        web_session = find_session(session, sid) if sid else None
        if web_session is not None:
            end_web_session(web_session, ACCOUNT_CHANGED)
        record(session, ctx, "auth.access_expired", "user", user.id,
               reason="the access period set by an administrator ended during the session")
