"""Why a signature is refused: the base of every refusal, and the two that the review's routing decides,
sequence (21 CFR 11.10(f)) and authority (11.10(g)). They live below the signing ceremony, which raises
them and adds its own (edms.signatures.errors), so that routing never imports the ceremony.

A refusal is raised before anything but the attempt's own audit event (and a failure count) was written:
an audited refusal, which the unit of work keeps in the audit trail.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from edms.documents.errors import DocumentError
from edms.errors import AuditedRefusal

if TYPE_CHECKING:
    from edms.workflow.completability import BlockedStep


class SigningRefused(AuditedRefusal):
    code = "refused"
    http_status = 403
    detail: str | None = None  # for the audit trail only, never shown (e.g. which credential was wrong)


class AuthorityRefused(SigningRefused):
    """This person may not sign this step (21 CFR 11.10(g))."""

    code = "forbidden"


class SequenceRefused(SigningRefused):
    """Not this step, not now, or not this version (21 CFR 11.10(f))."""

    code = "conflict"
    http_status = 409


class SubmissionRefused(DocumentError, AuditedRefusal):
    """A draft whose steps could not all be signed by the people active and ready now is not submitted; the
    refusal (with the blocked step, who is missing and what would unblock it) is in the audit trail."""

    code = "not_completable"

    def __init__(self, message: str, *, blocked: BlockedStep, **params: object) -> None:
        super().__init__(message, **params)
        self.blocked = blocked
