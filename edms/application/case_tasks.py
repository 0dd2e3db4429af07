"""The records each active case still needs, stored once per change rather than computed on every inbox.

A case's checklist (which records apply, which are satisfied, what each waits for) depends on its answers,
its status and its records, never on the clock: the same inputs as its next deadline. So
`case_deadlines.refresh`, which every use case changing one of them ends with, also stores here one row per
record still to create and per role of its first step (`CaseTask`), and the inbox reads the rows of the
reader's roles, most pressing case first (`pending_for`), instead of evaluating every active case.

Like the next deadline, the rows are a projection (not records, not audited: the change that caused them
is). 0022_scale_lists empties every case's `deadlines_at`, so a case stored before it has its checklist computed
on read (`legacy_case_ids`) until its next change; `mismatches(...)` and `edms verify` (`check_case_tasks`)
recompute every case and name any case whose stored rows differ from its checklist now.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.queries import CaseStatus, case_documents
from edms.cases.regimes import Regime
from edms.definitions import LocalizedText
from edms.documents import models as dm
from edms.documents.types import CASE_PHYSICIAN
from edms.paging import walks

ACTIVE = (cm.OPEN, cm.RELEASED)


@dataclass(frozen=True, order=True)
class Needed:
    """One record a case still needs, for one role that may write it (the stored row, compared as a value)."""

    type_key: str
    position: int
    role: str
    rank: int
    physician_writes: bool
    waiting_for: tuple[tuple[str, str], ...]


def needed(session: Session, case: cm.Case, status: CaseStatus | None) -> list[Needed]:
    """What the case's checklist says it still needs now (nothing for a closed case or an unknown regime)."""
    if status is None or case.status not in ACTIVE:
        return []
    existing = {d.type_key for d in case_documents(session, case) if d.status != dm.WITHDRAWN}
    rows = []
    for position, item in enumerate(status.checklist):
        # A record to create is the task of those who write it (its first step's roles), once it surely
        # applies; an unanswered condition is asked on the case page, not guessed here.
        if item.satisfied or item.applies is not True or item.document.type_key in existing:
            continue
        first = item.document.document_type.steps[0]
        waiting = tuple((blocker.reason.en, blocker.reason.ja) for blocker in item.blockers)
        rows += [Needed(item.document.type_key, position, role, rank, first.signer == CASE_PHYSICIAN, waiting)
                 for rank, role in enumerate(dict.fromkeys(first.roles))]
    return sorted(rows)


def _row(row: cm.CaseTask) -> Needed:
    waiting = tuple((text["en"], text["ja"]) for text in json.loads(row.waiting_for))
    return Needed(row.type_key, row.position, row.role, row.rank, row.physician_writes, waiting)


def stored(session: Session, case_id: int) -> list[Needed]:
    return sorted(_row(row) for row in session.scalars(select(cm.CaseTask).where(cm.CaseTask.case_id == case_id)))


def store(session: Session, case: cm.Case, status: CaseStatus | None) -> None:
    """Replace the case's stored rows by what its checklist says now (called by case_deadlines.refresh)."""
    want = needed(session, case, status)
    if want == stored(session, case.id):
        return  # nothing changed: no write
    session.execute(delete(cm.CaseTask).where(cm.CaseTask.case_id == case.id))
    session.add_all(cm.CaseTask(case_id=case.id, type_key=n.type_key, position=n.position, role=n.role, rank=n.rank,
                                physician_writes=n.physician_writes,
                                waiting_for=json.dumps([{"en": en, "ja": ja} for en, ja in n.waiting_for],
                                                       ensure_ascii=False))
                    for n in want)


@dataclass(frozen=True)
class PendingRecord:
    """A record a case needs from one of the reader's roles (the first of them the record's first step names)."""

    case: cm.Case
    type_key: str
    role: str
    physician_writes: bool
    waiting_for: tuple[LocalizedText, ...]


CasePosition = tuple[datetime | None, int]  # a case's place in the inbox's order: (its stored next deadline, id)


def pending_for(session: Session, roles: Sequence[str], regimes: Mapping[str, Regime], *, limit: int | None = None,
                after: CasePosition | None = None) -> tuple[list[PendingRecord], CasePosition | None]:
    """The records active cases need from any of `roles`, the case with the most pressing stored deadline
    first (then those without one, by id), each record once with the reader's first role for it; with `after`,
    those of the cases after that one. With `limit`, only the rows of that many cases are read, each status's
    cases walked in order on ix_cases_status_next_due and checked for a row of the roles (ix_case_tasks_case_id).
    Also returns the position of the last case read when more cases follow (None when they do not)."""
    if not roles:
        return [], None
    needs_roles = (select(cm.CaseTask.id).where(cm.CaseTask.case_id == cm.Case.id, cm.CaseTask.role.in_(roles))
                   .exists())
    dated_keys, undated_keys = [cm.Case.next_due_at, cm.Case.id], [cm.Case.id]
    wanted = None if limit is None else limit + 1
    cases: list[cm.Case] = []
    if after is None or after[0] is not None:
        dated = [select(cm.Case).where(cm.Case.status == status, cm.Case.next_due_at.is_not(None), needs_roles)
                 for status in ACTIVE]
        cases = walks(session, dated, dated_keys, values=after, limit=wanted)
    if wanted is None or len(cases) < wanted:
        undated = [select(cm.Case).where(cm.Case.status == status, cm.Case.next_due_at.is_(None), needs_roles)
                   for status in ACTIVE]
        values = (after[1],) if after is not None and after[0] is None else None
        cases += walks(session, undated, undated_keys, values=values,
                       limit=None if wanted is None else wanted - len(cases))
    following: CasePosition | None = None
    if limit is not None and len(cases) > limit:
        cases = cases[:limit]
        following = (cases[-1].next_due_at, cases[-1].id)
    if not cases:
        return [], following
    found = {case.id: case for case in cases}
    rows = session.scalars(select(cm.CaseTask).where(cm.CaseTask.case_id.in_(found), cm.CaseTask.role.in_(roles))
                           .order_by(cm.CaseTask.case_id, cm.CaseTask.position, cm.CaseTask.rank))
    chosen: dict[tuple[int, str], PendingRecord] = {}
    for row in rows:
        case = found[row.case_id]
        if case.regime_key not in regimes or (row.case_id, row.type_key) in chosen:
            continue
        waiting = tuple(LocalizedText(en=text["en"], ja=text["ja"]) for text in json.loads(row.waiting_for))
        chosen[(row.case_id, row.type_key)] = PendingRecord(case, row.type_key, row.role, row.physician_writes, waiting)
    order = {case.id: index for index, case in enumerate(cases)}
    return sorted(chosen.values(), key=lambda p: order[p.case.id]), following


def differences(session: Session, case: cm.Case, status: CaseStatus | None) -> str | None:
    """How the case's stored rows differ from its checklist now (`status`: computed now); None when they agree
    or the case was stored before they were kept (`deadlines_at` empty: computed on read)."""
    if case.deadlines_at is None:
        return None
    want, have = set(needed(session, case, status)), set(stored(session, case.id))
    if want == have:
        return None
    missing = sorted({f"{n.type_key} ({n.role})" for n in want - have})
    extra = sorted({f"{n.type_key} ({n.role})" for n in have - want})
    return f"missing {', '.join(missing) or 'nothing'}; stored but not needed {', '.join(extra) or 'nothing'}"
