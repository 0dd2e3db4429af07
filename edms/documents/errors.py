"""Why a document operation was refused; the message is shown to the person who asked."""
from __future__ import annotations

from collections.abc import Mapping

from edms.documents.types.values import FieldError
from edms.errors import N_, AuditedRefusal, UserError


class DocumentError(UserError):
    """A refused document operation; the message is shown to the person who asked.

    `code` says what kind of refusal it is, so that the API answers each kind with its own status.
    """

    code = "refused"


class NotPermitted(DocumentError):
    """The person's roles, or their relation to the document, do not allow the operation."""

    code = "forbidden"


class WrongState(DocumentError):
    """The document's state does not allow the operation now (frozen, withdrawn, still a draft)."""

    code = "conflict"


class ReasonRequired(DocumentError):
    code = "reason_required"


class UploadRefused(DocumentError, AuditedRefusal):
    """The upload was refused and the refusal is in the audit trail (an audited refusal: the record stays)."""

    code = "upload_refused"


class ValidationFailed(DocumentError):
    """Field-level errors; nothing was stored."""

    code = "validation_failed"

    def __init__(self, errors: Mapping[str, FieldError]) -> None:
        super().__init__(N_("Some fields are not valid: nothing was saved."))
        self.errors = errors
