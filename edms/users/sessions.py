"""Ending a person's sessions and tokens on the server (21 CFR 11.10(d), 11.300(c)).

Each account has a session epoch, stored in the database so that every app node sees it: a signed-in
session carries the epoch it began in and ends as soon as the account's epoch has moved on. Bearer tokens
are rows of their own and are revoked. `end_sessions` does both: on a password change or reset,
deactivation, lockout and a role taken away. Signing out moves the epoch only (the person's API tokens are
withdrawn through the API)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.timeutil import utc_now
from edms.users.models import ApiToken, User


def end_web_sessions(user: User) -> None:
    """Every page session of the person stops working, on every node."""
    user.session_epoch += 1


def end_sessions(session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    """Every session and every bearer token of the person ends now; audited with the number of tokens revoked."""
    end_web_sessions(user)
    now = utc_now()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                                    ApiToken.expires_at > now)).all()
    for token in tokens:
        token.revoked_at = now
    record(session, ctx, "auth.sessions_ended", "user", user.id,
           changes={"session_epoch": {"old": user.session_epoch - 1, "new": user.session_epoch},
                    "tokens_revoked": {"old": None, "new": len(tokens)}}, reason=reason)


def session_current(user: User, epoch: object) -> bool:
    """Whether a page session that began in `epoch` is still valid for `user`."""
    return isinstance(epoch, int) and not isinstance(epoch, bool) and epoch == user.session_epoch
