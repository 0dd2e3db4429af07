"""A case as people name it: its reference (CASE-2026-0001), typed in any case, or its number."""
from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edms.cases.models import Case

REFERENCE = re.compile(r"^CASE-\d{4}-\d{4,}$", re.IGNORECASE)


def find_case_id(session: Session, text: str) -> int | None:
    """The id of the case `text` names: a reference such as "case-2026-0001" or the case's number; None
    when no case has it."""
    value = text.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return session.scalar(select(Case.id).where(Case.id == int(value)))
    if not REFERENCE.match(value):
        return None
    return session.scalar(select(Case.id).where(func.upper(Case.reference) == value.upper()))
