"""What a version's or a document's status is called where people read it (pages, renditions, packages).

The stored value (`in_review`) is a key for code and machines; people read the label, in their language."""
from __future__ import annotations

from edms.documents.models import APPROVED, DRAFT, IN_REVIEW, REJECTED, SUPERSEDED, WITHDRAWN
from edms.errors import N_
from edms.wording import translate

STATUS_LABELS = {
    DRAFT: N_("Draft"),
    IN_REVIEW: N_("In review"),
    APPROVED: N_("Approved"),
    SUPERSEDED: N_("Superseded"),
    WITHDRAWN: N_("Withdrawn"),
    REJECTED: N_("Refused"),
}


def status_label(status: str, language: str) -> str:
    """The status in `language`; an unknown value is shown as stored, never hidden."""
    label = STATUS_LABELS.get(status)
    return translate(label, language) if label else status
