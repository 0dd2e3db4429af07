"""Why an account operation was refused; the message is shown to the person who asked."""
from __future__ import annotations

from edms.errors import AuditedRefusal, UserError


class AccountError(UserError):
    """A refused account operation; the message is shown to the person who asked."""


class CurrentPasswordWrong(AccountError, AuditedRefusal):
    """A wrong current password when changing one's own: the failed attempt stays in the audit trail."""
