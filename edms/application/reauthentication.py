"""Re-authentication: an act that grants, delegates or changes authority (a delegation, a role change, a
password or second-factor change, a new API token) is confirmed with the acting person's password, like a
signature (21 CFR 11.200(a)(1), 11.300(d)). A bearer token or a session cookie alone never suffices.

Call `confirm_identity` first inside the use case's `use_case(session)`: a wrong password is refused
(`ReauthenticationRefused`, an audited refusal), recorded, and counted towards lockout as a failed sign-in is."""
from __future__ import annotations

from sqlalchemy.orm import Session

from edms.application.services import Services
from edms.audit import AuditContext
from edms.errors import N_, AuditedRefusal
from edms.users.authentication import Outcome, register_failure
from edms.users.errors import AccountError
from edms.users.models import User
from edms.users.passwords import verify_password


class ReauthenticationRefused(AccountError, AuditedRefusal):
    """The password given to confirm an act of authority was wrong: nothing was changed."""


def confirm_identity(services: Services, session: Session, ctx: AuditContext, user: User, password: str | None, *,
                     act: str) -> None:
    """The acting person proves again who they are before `act` (a short English name for the audit trail)."""
    policy = services.settings.password
    if isinstance(password, str) and password and verify_password(policy, user.password_hash, password):
        user.failed_logins = 0
        return
    result = register_failure(session, ctx, policy, user, f"confirmation of {act}")
    if result.outcome is Outcome.LOCKED:
        raise ReauthenticationRefused(N_("Your password is not correct: nothing was changed. The account is now "
                                         "locked and the administrators have been alerted."))
    raise ReauthenticationRefused(N_("Your password is not correct: nothing was changed."))
