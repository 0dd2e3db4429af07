"""Why a case operation was refused."""
from __future__ import annotations

from edms.errors import UserError


class CaseError(UserError):
    """A refused case operation; the message is shown to the person who asked."""


class CaseOutOfScope(CaseError):
    """The case (or a record of it) is not one the person may see: answered as if it did not exist (404)."""
