"""Sign-in: credential checks, failure counting, lockout (21 CFR 11.300(d))."""
from __future__ import annotations

import enum
import functools
import secrets
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.config import PasswordPolicy
from edms.errors import N_
from edms.timeutil import utc_now
from edms.users.models import User
from edms.users.passwords import hash_password, verify_password
from edms.users.queries import find_user
from edms.users.sessions import end_sessions


class Outcome(enum.Enum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    INACTIVE = "inactive"
    EXPIRED = "expired"


# One answer for every refused sign-in, whatever the reason: the page and the API never reveal whether an
# account exists, is locked, deactivated or expired (the audit trail records which).
REFUSED = N_("Sign-in failed: the user name or password is not correct, or the account is locked, deactivated or "
             "its access period has ended. Ask an administrator if this keeps happening.")


@dataclass(frozen=True)
class AuthResult:
    outcome: Outcome
    user: User | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def message(self) -> str:
        return "" if self.ok else REFUSED


def authenticate(
    session: Session, ctx: AuditContext, policy: PasswordPolicy, username: str, password: str, *, channel: str = "web"
) -> AuthResult:
    """Check credentials and record the attempt. The caller commits even when the attempt fails,
    so failures are counted and audited."""
    user = find_user(session, username)
    # The password is checked before anything about the account is looked at, and for an unknown name
    # against a stand-in hash, so that every attempt costs one Argon2 verification (no timing difference).
    password_ok = verify_password(policy, (user.password_hash if user else None) or _stand_in_hash(policy), password)
    if user is None:
        record(session, ctx, "auth.failed", "user", None, changes={"username": {"old": None, "new": username[:64]}},
               reason=f"unknown user name ({channel})")
        return AuthResult(Outcome.BAD_CREDENTIALS)
    if not user.active:
        record(session, ctx, "auth.refused", "user", user.id, reason=f"account deactivated ({channel})")
        return AuthResult(Outcome.INACTIVE, user)
    if user.locked:
        record(session, ctx, "auth.refused", "user", user.id, reason=f"account locked ({channel})")
        return AuthResult(Outcome.LOCKED, user)
    if not password_ok:
        return register_failure(session, ctx, policy, user, channel)
    if user.access_expires_at is not None and user.access_expires_at <= utc_now():
        record(session, ctx, "auth.refused", "user", user.id, reason=f"access period ended ({channel})")
        return AuthResult(Outcome.EXPIRED, user)
    user.failed_logins = 0
    user.last_login_at = utc_now()
    # From here on the person is identified: they are the actor of their own sign-in.
    record(session, replace(ctx, user_id=user.id, user_name=user.printed_name), "auth.signed_in", "user", user.id,
           reason=channel)
    return AuthResult(Outcome.OK, user)


@functools.cache
def _stand_in_hash(policy: PasswordPolicy) -> str:
    """A hash no password matches, made with the policy's costs: what an unknown user name is checked against."""
    return hash_password(policy, secrets.token_urlsafe(32))


def register_failure(session: Session, ctx: AuditContext, policy: PasswordPolicy, user: User, channel: str) -> AuthResult:
    """A wrong password, at sign-in or at a signature: counted towards lockout and audited."""
    user.failed_logins += 1
    record(session, ctx, "auth.failed", "user", user.id,
           changes={"failed_logins": {"old": user.failed_logins - 1, "new": user.failed_logins}},
           reason=f"wrong password ({channel})")
    if user.failed_logins >= policy.lockout_threshold:
        user.locked_at = utc_now()
        # The lockout event is the administrators' alert (11.300(d)); the web layer also lists it on their home page.
        record(session, ctx, "auth.locked", "user", user.id, changes={"locked": {"old": False, "new": True}},
               reason=f"{user.failed_logins} consecutive failed attempts")
        end_sessions(session, ctx, user, "account locked")
        return AuthResult(Outcome.LOCKED, user)
    return AuthResult(Outcome.BAD_CREDENTIALS, user)
