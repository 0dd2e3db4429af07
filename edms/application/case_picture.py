"""Where a case stands, as a picture's model: its records as a flow (done, open, blocked, not needed, and
who acts next) and its deadlines on a time line with the time left.

Read from the same sources as the checklist (cases.queries.case_status) and the signing routing
(workflow.routing), so the picture can never disagree with the checklist or the signing page. The web
layer draws it (edms/web/case_picture_svg.py); nothing here knows about SVG or HTTP.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from edms.cases import models as cm
from edms.cases.deadlines import DUE_SOON, OVERDUE, PENDING, DeadlineStatus
from edms.cases.queries import CaseStatus, case_documents
from edms.cases.regimes import ChecklistItem, Regime
from edms.documents import models as dm
from edms.documents.types import CASE_PHYSICIAN, DocumentType, LocalizedText
from edms.signatures.planning import signed_steps
from edms.users.models import User
from edms.workflow import routing

DONE = "done"
OPEN = "open"  # someone can act on it now: write it, finish it, or sign its next step
BLOCKED = "blocked"  # it may not be signed yet (a prerequisite is missing or an answer is outstanding)
NOT_NEEDED = "not_needed"
FLOW_STATES = (DONE, OPEN, BLOCKED, NOT_NEEDED)

# What the record waits for when it is open.
TO_CREATE = "to_create"
TO_FINISH = "to_finish"  # a draft, or a refused version to revise
TO_SIGN = "to_sign"


@dataclass(frozen=True)
class FlowNode:
    """One record of the case's regime, as a box in the flow."""

    type_key: str
    label: LocalizedText
    state: str  # one of FLOW_STATES
    column: int  # 0 for records needing nothing before them; otherwise one more than their latest prerequisite
    prerequisites: tuple[str, ...]  # type keys of the records it waits for, in the regime's order
    numbers: tuple[str, ...] = ()  # the case's documents of this type
    document_ids: tuple[int, ...] = ()  # their ids, in the same order
    waiting_for: str | None = None  # TO_CREATE, TO_FINISH or TO_SIGN while open or blocked
    step: LocalizedText | None = None  # the step to sign next
    roles: tuple[str, ...] = ()  # who acts next, by role
    people: tuple[str, ...] = ()  # who acts next, by name, where it is a particular person
    reasons: tuple[LocalizedText, ...] = ()  # why it is blocked, or why it is not met yet


@dataclass(frozen=True)
class TimelineMark:
    """One deadline of the case on the time line."""

    key: str
    label: LocalizedText
    state: str  # the deadline's state (cases.deadlines.STATES)
    state_label: LocalizedText
    due_at: datetime | None  # UTC; None while its clock has not started
    time_left: timedelta | None  # negative when overdue
    human: LocalizedText  # "in 1 day 3 h", "overdue by 2 h", "met on time", ...
    not_before: bool  # a waiting period (the event may not happen before due_at)

    @property
    def overdue(self) -> bool:
        return self.state == OVERDUE


@dataclass(frozen=True)
class CasePicture:
    reference: str
    now: datetime  # UTC
    site_zone: str
    nodes: tuple[FlowNode, ...]
    marks: tuple[TimelineMark, ...]

    @property
    def columns(self) -> int:
        return 1 + max((node.column for node in self.nodes), default=0)

    def node(self, type_key: str) -> FlowNode:
        return next(node for node in self.nodes if node.type_key == type_key)

    def counts(self) -> dict[str, int]:
        return {state: sum(1 for node in self.nodes if node.state == state) for state in FLOW_STATES}

    @property
    def dated_marks(self) -> tuple[TimelineMark, ...]:
        return tuple(mark for mark in self.marks if mark.due_at is not None)


def columns_of(regime: Regime) -> dict[str, int]:
    """Each record's column: the length of its longest chain of prerequisites within the regime."""
    prerequisites = {document.type_key: document.prerequisites for document in regime.documents}
    found: dict[str, int] = {}

    def column(key: str, seen: frozenset[str]) -> int:
        if key not in found:
            before = [p for p in prerequisites.get(key, ()) if p in prerequisites and p not in seen]
            found[key] = 1 + max((column(p, seen | {key}) for p in before), default=-1)
        return found[key]

    return {key: column(key, frozenset()) for key in prerequisites}


def timeline(deadlines: list[DeadlineStatus]) -> tuple[TimelineMark, ...]:
    return tuple(
        TimelineMark(key=status.key, label=status.deadline.label, state=status.state, state_label=status.state_label,
                     due_at=status.due_at, time_left=status.time_left, human=status.human,
                     not_before=status.deadline.direction == "not_before")
        for status in deadlines
    )


def case_picture(session: Session, case: cm.Case, status: CaseStatus, *,
                 document_types: Mapping[str, DocumentType], now: datetime,
                 documents: list[dm.Document] | None = None) -> CasePicture:
    """The picture of `case` from its status (as cases.queries.case_status computed it at `now`); `documents`:
    the case's documents when already read (cases.queries.case_documents)."""
    columns = columns_of(status.regime)
    documents = [d for d in (case_documents(session, case) if documents is None else documents)
                 if d.status != dm.WITHDRAWN]
    physician = session.get(User, case.physician_id) if case.physician_id else None
    nodes = []
    for item in status.checklist:
        key = item.document.type_key
        mine = [d for d in documents if d.type_key == key]
        nodes.append(_node(session, item, mine, columns.get(key, 0), document_types.get(key), physician))
    return CasePicture(reference=case.reference, now=now, site_zone=case.site_timezone, nodes=tuple(nodes),
                       marks=timeline(status.deadlines))


def _node(session: Session, item: ChecklistItem, documents: list[dm.Document], column: int,
          doc_type: DocumentType | None, physician: User | None) -> FlowNode:
    """A record is done when the checklist says so, blocked while the regime's gate forbids signing it (who acts
    next is then who must act on what blocks it), and otherwise open, waiting for the person who acts next."""
    regime_document = item.document

    def node(state: str, waiting_for: str | None = None, step: LocalizedText | None = None,
             roles: tuple[str, ...] = (), people: tuple[str, ...] = ()) -> FlowNode:
        return FlowNode(type_key=regime_document.type_key, label=regime_document.document_type.name, state=state,
                        column=column, prerequisites=regime_document.prerequisites,
                        numbers=tuple(d.number for d in documents), document_ids=tuple(d.id for d in documents),
                        waiting_for=waiting_for, step=step,
                        roles=roles, people=people,
                        reasons=() if state in (DONE, NOT_NEEDED) else
                        tuple(b.reason for b in item.blockers) + item.shortfalls)

    if item.satisfied:
        return node(DONE)
    if item.applies is False:
        return node(NOT_NEEDED)
    pending = _pending(session, documents, doc_type, physician)
    if pending is None:  # nothing written yet (or nothing that meets the regime): its first signer writes it
        first = regime_document.document_type.steps[0]
        pending = (TO_CREATE, None, tuple(first.roles),
                   (physician.printed_name,) if first.signer == CASE_PHYSICIAN and physician else ())
    waiting_for, step, roles, people = pending
    if item.blockers:
        return node(BLOCKED, waiting_for, step, item.next_roles)
    return node(OPEN, waiting_for, step, roles, people)


def _pending(session: Session, documents: list[dm.Document], doc_type: DocumentType | None,
             physician: User | None) -> tuple[str, LocalizedText | None, tuple[str, ...], tuple[str, ...]] | None:
    """What the newest unfinished record of this type waits for: (waiting_for, step, roles, people); None when
    there is none (every record of the type is approved, or none was written)."""
    for document in reversed(documents):
        version = document.latest
        if version.status in (dm.DRAFT, dm.REJECTED):
            owner = session.get(User, document.owner_id)
            return TO_FINISH, None, (), (owner.printed_name,) if owner else ()
        if version.status == dm.IN_REVIEW and doc_type is not None:
            states = routing.progress(doc_type.steps, signed_steps(session, version))
            due = next((s for s in states if s.due), None)
            if due is None:
                continue
            people = (physician.printed_name,) if due.step.signer == CASE_PHYSICIAN and physician else ()
            return TO_SIGN, due.step.label, tuple(due.step.roles), people
    return None


def next_deadline(deadlines: list[DeadlineStatus]) -> DeadlineStatus | None:
    """The case's most pressing open deadline: an overdue one first, else the earliest due; None when none runs."""
    running = [d for d in deadlines if d.due_at is not None and d.time_left is not None
               and d.state in (OVERDUE, DUE_SOON, PENDING) and d.deadline.direction == "not_after"]
    return min(running, key=lambda d: (d.state != OVERDUE, d.due_at), default=None)
