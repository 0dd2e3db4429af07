"""Every state change of an account: one function each, audited in the same transaction."""
from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.audit.record import diff
from edms.config import PasswordPolicy
from edms.errors import N_
from edms.plaintext import UnsafeText, check_text
from edms.timeutil import is_valid_zone, require_aware, utc_now
from edms.users.errors import AccountError, CurrentPasswordWrong
from edms.users.models import PasswordHistory, User, UserRole
from edms.users.passwords import PasswordRejected, check_new_password, hash_password, verify_password
from edms.users.profiles import LANGUAGES, Profile
from edms.users.roles import RoleError, check_role_set
from edms.users.usernames import UsernameRejected, check_username


def _check_profile(profile: Profile) -> None:
    if not profile.printed_name.strip():
        raise AccountError(N_("The printed name is required: it appears under every signature."))
    if len(profile.printed_name) > 200:
        raise AccountError(N_("The printed name is too long (200 characters at most)."))
    for text, refusal in ((profile.printed_name, N_("The printed name may not hold %(code)s: control, bidirectional "
                                                    "and invisible characters are refused.")),
                          (profile.title, N_("The title may not hold %(code)s: control, bidirectional and invisible "
                                             "characters are refused."))):
        try:
            check_text(text)
        except UnsafeText as exc:
            raise AccountError(refusal, code=exc.params["code"]) from None
    if profile.email and ("@" not in profile.email or len(profile.email) > 254):
        raise AccountError(N_("The e-mail address is not valid."))
    if not is_valid_zone(profile.timezone):
        raise AccountError(N_("Unknown time zone '%(zone)s'."), zone=profile.timezone)
    if profile.language not in LANGUAGES:
        raise AccountError(N_("Unknown language '%(language)s'."), language=profile.language)
    if profile.access_expires_at is not None:
        require_aware(profile.access_expires_at)


def create_user(
    session: Session,
    ctx: AuditContext,
    policy: PasswordPolicy,
    *,
    username: str,
    profile: Profile,
    roles: set[str],
    password: str,
    must_change_password: bool = True,
) -> User:
    try:
        name = check_username(username)
    except UsernameRejected as exc:
        raise AccountError(exc.message, **exc.params) from exc
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise AccountError(N_("The user name '%(name)s' has been issued before and can never be issued again."), name=name)
    _check_profile(profile)
    try:
        check_role_set(roles)
        check_new_password(policy, name, password, [])
    except (RoleError, PasswordRejected) as exc:
        raise AccountError(exc.message, **exc.params) from exc
    now = utc_now()
    user = User(
        username=name,
        printed_name=unicodedata.normalize("NFC", profile.printed_name.strip()),
        title=profile.title.strip(),
        email=profile.email.strip(),
        timezone=profile.timezone,
        language=profile.language,
        access_expires_at=profile.access_expires_at,
        active=True,
        created_at=now,
        password_hash=hash_password(policy, password),
        password_changed_at=now,
        must_change_password=must_change_password,
        failed_logins=0,
    )
    user.role_grants = [UserRole(role=role, granted_at=now) for role in sorted(roles)]
    session.add(user)
    session.flush()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))
    record(session, ctx, "user.created", "user", user.id, changes=diff({}, user.snapshot()))
    return user


def update_profile(session: Session, ctx: AuditContext, user: User, profile: Profile, reason: str) -> None:
    _require_reason(reason)
    _check_profile(profile)
    before = user.snapshot()
    user.printed_name = unicodedata.normalize("NFC", profile.printed_name.strip())
    user.title = profile.title.strip()
    user.email = profile.email.strip()
    user.timezone = profile.timezone
    user.language = profile.language
    user.access_expires_at = profile.access_expires_at
    changes = diff(before, user.snapshot())
    if changes:
        record(session, ctx, "user.updated", "user", user.id, changes=changes, reason=reason)


def set_language(session: Session, ctx: AuditContext, user: User, language: str) -> None:
    """A person's own choice of language: pages after sign-in, notifications and their e-mails follow it."""
    if language not in LANGUAGES:
        raise AccountError(N_("Unknown language '%(language)s'."), language=language)
    if user.language == language:
        return
    before, user.language = user.language, language
    record(session, ctx, "user.language_changed", "user", user.id,
           changes={"language": {"old": before, "new": language}}, reason="chosen by the person")


def set_roles(session: Session, ctx: AuditContext, user: User, roles: set[str], reason: str) -> None:
    _require_reason(reason)
    try:
        check_role_set(roles)
    except RoleError as exc:
        raise AccountError(exc.message, **exc.params) from exc
    if ctx.user_id == user.id:
        raise AccountError(N_("Administrators cannot change their own roles."))
    before = sorted(user.roles)
    if before == sorted(roles):
        return
    now = utc_now()
    user.role_grants = [g for g in user.role_grants if g.role in roles] + [
        UserRole(role=role, granted_at=now) for role in sorted(roles - user.roles)
    ]
    session.flush()
    record(
        session, ctx, "user.roles_changed", "user", user.id,
        changes={"roles": {"old": before, "new": sorted(roles)}}, reason=reason,
    )


def deactivate(session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    _require_reason(reason)
    if ctx.user_id == user.id:
        raise AccountError(N_("You cannot deactivate your own account."))
    if not user.active:
        raise AccountError(N_("The account is already deactivated."))
    user.active = False
    user.deactivated_at = utc_now()
    record(session, ctx, "user.deactivated", "user", user.id, changes={"active": {"old": True, "new": False}}, reason=reason)


def reactivate(session: Session, ctx: AuditContext, policy: PasswordPolicy, user: User, password: str,
               reason: str) -> None:
    """A deactivated account returns under a temporary password, as a new one does. `deactivated_at` stays: its
    old certificates stay revoked and signing waits for an identity check recorded after it (edms.signatures.gates)."""
    _require_reason(reason)
    if ctx.user_id == user.id:
        raise AccountError(N_("You cannot reactivate your own account."))
    if user.active:
        raise AccountError(N_("The account is active: only a deactivated account can be reactivated."))
    _store_new_password(session, policy, user, password)
    user.must_change_password = True
    user.active = True
    user.locked_at = None
    user.failed_logins = 0
    record(session, ctx, "user.reactivated", "user", user.id, changes={"active": {"old": False, "new": True}},
           reason=reason)


def unlock(session: Session, ctx: AuditContext, user: User, reason: str) -> None:
    _require_reason(reason)
    if not user.active:
        raise AccountError(N_("The account is deactivated: reactivate it instead (a second administrator then verifies "
                              "the person's identity)."))
    if not user.locked:
        raise AccountError(N_("The account is not locked."))
    user.locked_at = None
    user.failed_logins = 0
    record(session, ctx, "user.unlocked", "user", user.id, changes={"locked": {"old": True, "new": False}}, reason=reason)


def admin_set_password(
    session: Session, ctx: AuditContext, policy: PasswordPolicy, user: User, password: str, reason: str
) -> None:
    """An administrator's reset: the person must choose a new password at their next sign-in."""
    _require_reason(reason)
    if ctx.user_id == user.id:
        raise AccountError(N_("Change your own password from your account page."))
    _store_new_password(session, policy, user, password)
    user.must_change_password = True
    record(session, ctx, "user.password_reset", "user", user.id, reason=reason)


def change_own_password(
    session: Session, ctx: AuditContext, policy: PasswordPolicy, user: User, current: str, new: str
) -> None:
    if not verify_password(policy, user.password_hash, current):
        record(session, ctx, "user.password_change_failed", "user", user.id, reason="current password wrong")
        raise CurrentPasswordWrong(N_("The current password is not correct."))
    if current == new:
        raise AccountError(N_("The new password must differ from the current one."))
    _store_new_password(session, policy, user, new)
    user.must_change_password = False
    record(session, ctx, "user.password_changed", "user", user.id)


def _store_new_password(session: Session, policy: PasswordPolicy, user: User, password: str) -> None:
    history = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(policy.history)
    ).all()
    try:
        check_new_password(policy, user.username, password, list(history))
    except PasswordRejected as exc:
        raise AccountError(exc.message, **exc.params) from exc
    now = utc_now()
    user.password_hash = hash_password(policy, password)
    user.password_changed_at = now
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now))


def _require_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise AccountError(N_("A reason is required for this change."))
