"""Why a case operation was refused."""
from __future__ import annotations

from collections.abc import Mapping

from edms.definitions import LocalizedText
from edms.documents.errors import ValidationFailed
from edms.documents.types import FieldError
from edms.errors import N_, AuditedRefusal, UserError


class CaseError(UserError):
    """A refused case operation; the message is shown to the person who asked."""


class RequirementNotMet(ValidationFailed, AuditedRefusal):
    """A submission refused because the record could never satisfy its case's gate; the refusal is audited
    (an audited refusal: its record stays) and each field's reason names the field and the value needed."""

    code = "requirement_not_met"

    def __init__(self, number: str, case_reference: str, reasons: Mapping[str, LocalizedText]) -> None:
        UserError.__init__(self, N_("%(number)s was not submitted: it could never satisfy the gate of case "
                                    "%(case)s. %(reasons)s"),
                           number=number, case=case_reference, reasons=LocalizedText.join(list(reasons.values())))
        self.errors = {name: FieldError("%(reason)s", reason=reason) for name, reason in reasons.items()}
        self.reasons = dict(reasons)


class CaseOutOfScope(CaseError):
    """The case (or a record of it) is not one the person may see: answered as if it did not exist (404)."""
