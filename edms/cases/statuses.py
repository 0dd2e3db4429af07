"""What a case's status is called where people read it; the stored value is a key for code and machines."""
from __future__ import annotations

from edms.cases.models import CANCELLED, CLOSED, OPEN, RELEASED
from edms.errors import N_
from edms.wording import translate

CASE_STATUS_LABELS = {
    OPEN: N_("Open (in progress)"),
    RELEASED: N_("Released"),
    CLOSED: N_("Closed"),
    CANCELLED: N_("Cancelled"),
}


def case_status_label(status: str, language: str) -> str:
    label = CASE_STATUS_LABELS.get(status)
    return translate(label, language) if label else status
