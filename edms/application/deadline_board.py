"""The deadline dashboard a page at a time: active cases by their stored next deadline, each case's deadlines
computed for the page's cases only, so the dashboard costs the same with ten open cases or ten thousand.

Order: the cases with a running "not after" deadline, the most pressing first (`next_due_at`, then id: index
ix_cases_status_next_due), then the others by id (a case whose deadlines are all met, not yet running or
"not before" ones, and a case stored before 0022 whose next deadline is computed on read until its next
change). The cursor says which of the two parts the next page starts in; a cursor that is not one of ours is
`BadCursor` (a 400 on the page).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.deadlines import MET, DeadlineStatus
from edms.cases.queries import case_status
from edms.cases.regimes import Regime
from edms.documents.types import DocumentType
from edms.paging import BadCursor, Page, decode_cursor, encode_cursor, walks

ACTIVE = (cm.OPEN, cm.RELEASED)


@dataclass(frozen=True)
class BoardRow:
    case: cm.Case
    deadline: DeadlineStatus


def _cases_page(session: Session, cursor: str | None, limit: int) -> tuple[list[cm.Case], str | None]:
    """`limit` active cases after `cursor` in the dashboard's order, and the cursor of the page after them. Each
    part is read one status at a time (`walks`), so the index walks in order and stops after the page."""
    dated = [select(cm.Case).where(cm.Case.status == status, cm.Case.next_due_at.is_not(None)) for status in ACTIVE]
    undated = [select(cm.Case).where(cm.Case.status == status, cm.Case.next_due_at.is_(None)) for status in ACTIVE]
    in_dated, values = True, None
    if cursor:
        try:
            values = decode_cursor(cursor, [datetime, int])
        except BadCursor:
            values = decode_cursor(cursor, [int])  # the second part: BadCursor again if neither
            in_dated = False
    cases: list[cm.Case] = []
    if in_dated:
        cases = walks(session, dated, [cm.Case.next_due_at, cm.Case.id], values=values, limit=limit + 1)
        if len(cases) > limit:
            last = cases[limit - 1]
            return cases[:limit], encode_cursor([last.next_due_at, last.id])
        values = None
    room = limit - len(cases)
    rest = walks(session, undated, [cm.Case.id], values=values, limit=room + 1)
    if len(rest) > room:
        # The second part goes on: after its last case on this page; when the page holds none of it yet (the
        # first part filled it and has no more), after the first part's last case, so it starts from its first.
        if room:
            return cases + rest[:room], encode_cursor([rest[room - 1].id])
        return cases, encode_cursor([cases[-1].next_due_at, cases[-1].id])
    return cases + rest, None


def board_page(session: Session, *, types: Mapping[str, DocumentType], regimes: Mapping[str, Regime],
               now: datetime, cursor: str | None, limit: int) -> Page[BoardRow]:
    """One page of the dashboard: every deadline not met of up to `limit` cases, most urgent first on the page."""
    cases, following = _cases_page(session, cursor, limit)
    rows = []
    for case in cases:
        if case.regime_key not in regimes:
            continue
        status = case_status(session, case, types, regimes, now)
        rows += [BoardRow(case, item) for item in status.deadlines if item.due_at is not None and item.state != MET]
    rows.sort(key=lambda row: row.deadline.due_at or now)
    return Page(rows, following)
