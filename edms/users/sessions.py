"""Ending a person's sessions and tokens on the server (21 CFR 11.10(d), 11.300(c)), and the records of
signed-in page sessions.

Each account has a session epoch, stored in the database so that every app node sees it: a signed-in
session carries the epoch it began in and ends as soon as the account's epoch has moved on. Each page
session also has a record of its own (`WebSession`: started, last seen, client, how it ended), checked at
every request whichever node answers, so that one session can end without the others (an administrator
ending it, an idle timeout). Bearer tokens are rows of their own and are revoked. `end_sessions` does both:
on a password change or reset, deactivation, lockout and a role taken away. Signing out moves the epoch
only (the person's API tokens are withdrawn through the API)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.timeutil import isoformat_utc, utc_now
from edms.users.errors import AccountError
from edms.users.models import ApiToken, User, WebSession
from edms.users.session_records import (
    ACCOUNT_CHANGED,
    END_REASONS,
    ENDED_BY_ADMIN,
    TOUCH_INTERVAL,
    Reader,
    find_session,
    session_hash,
)


def start_web_session(session: Session, user: User, sid: str, *, client_addr: str, user_agent: str,
                      replaces: str | None = None) -> WebSession:
    """The record of a page session that has just signed in; a session the same browser still held open
    before (`replaces`, its id) ends as replaced. Its sign-in is audited by the authentication itself."""
    now = utc_now()
    previous = find_session(session, replaces) if replaces else None
    if previous is not None and previous.open:
        previous.ended_at, previous.end_reason = now, "replaced"
    web_session = WebSession(id_sha256=session_hash(sid), user_id=user.id, created_at=now, last_seen_at=now,
                             client_addr=(client_addr or "")[:64], user_agent=(user_agent or "")[:256])
    session.add(web_session)
    session.flush()
    return web_session


def touch_web_session(web_session: WebSession, now: datetime) -> bool:
    """Note that the session was used at `now`: written only once it moved on by more than TOUCH_INTERVAL, so
    that reading pages costs no write per request. Whether it was written."""
    if now - web_session.last_seen_at <= TOUCH_INTERVAL:
        return False
    web_session.last_seen_at = now
    return True


def end_web_session(web_session: WebSession, reason: str) -> bool:
    """End one open page session (`reason`, one of END_REASONS); False when it had already ended."""
    if reason not in END_REASONS:
        raise ValueError(f"unknown end reason {reason!r}")
    if not web_session.open:
        return False
    web_session.ended_at, web_session.end_reason = utc_now(), reason
    return True


REASON_MAX = 2000


def check_reason(reason: str) -> None:
    """A reason as the audit trail keeps it: given, at most REASON_MAX characters, printable text (tab and line
    break allowed)."""
    if not (reason or "").strip():
        raise AccountError(N_("A reason is required for this change."))
    if len(reason) > REASON_MAX:
        raise AccountError(N_("The reason may hold at most %(count)s characters."), count=REASON_MAX)
    try:
        check_text(reason, multi_line=True)
    except UnsafeText as exc:
        raise AccountError(exc.message, **exc.params) from None


def end_session_by_administrator(session: Session, ctx: AuditContext, web_session: WebSession, reason: str) -> bool:
    """An administrator ends one person's page session (on every node at its next request); audited with the
    administrator's reason. False, and nothing recorded, when it had already ended. AccountError, and nothing
    changed, for a reason that is missing, longer than REASON_MAX or holds control characters."""
    check_reason(reason)
    ended = end_web_session(web_session, ENDED_BY_ADMIN)
    if ended and web_session.ended_at is not None:
        record(session, ctx, "auth.session_ended", "user", web_session.user_id,
               changes={"web_session": {"old": None, "new": web_session.id},
                        "ended_at": {"old": None, "new": isoformat_utc(web_session.ended_at)},
                        "client_addr": {"old": None, "new": web_session.client_addr}},
               reason=reason)
    return ended


def end_web_sessions(session: Session, user: User, reason: str, *, keep: str | None = None) -> int:
    """Every page session of the person stops working, on every node (`keep`: the id of the one session that
    continues, under the new epoch). The number of session records ended."""
    user.session_epoch += 1
    statement = update(WebSession).where(WebSession.user_id == user.id, WebSession.ended_at.is_(None))
    if keep:
        statement = statement.where(WebSession.id_sha256 != session_hash(keep))
    result = session.execute(statement.values(ended_at=utc_now(), end_reason=reason),
                             execution_options={"synchronize_session": "fetch"})
    return int(getattr(result, "rowcount", 0) or 0)


def end_sessions(session: Session, ctx: AuditContext, user: User, reason: str, *, keep: str | None = None) -> None:
    """Every session and every bearer token of the person ends now; audited with the number of tokens revoked.
    `keep`: the id of the page session in use, which continues (a person changing their own password)."""
    end_web_sessions(session, user, ACCOUNT_CHANGED, keep=keep)
    now = utc_now()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                                    ApiToken.expires_at > now)).all()
    for token in tokens:
        token.revoked_at = now
    record(session, ctx, "auth.sessions_ended", "user", user.id,
           changes={"session_epoch": {"old": user.session_epoch - 1, "new": user.session_epoch},
                    "tokens_revoked": {"old": None, "new": len(tokens)}}, reason=reason)


def session_current(user: User | Reader, epoch: object) -> bool:
    """Whether a page session that began in `epoch` is still valid for `user`."""
    return isinstance(epoch, int) and not isinstance(epoch, bool) and epoch == user.session_epoch
