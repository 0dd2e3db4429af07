"""The task inbox: what a person must sign, revise or create next, most urgent first.

Derived on every call from the records themselves (no task table), so an inbox can never disagree with
the documents, signatures and case clocks it summarises. The signing rules are the ceremony's own
(workflow.routing), so nobody is offered a signature the ceremony would refuse on authority grounds
(11.10(g)). A task is shown only to someone who can act on it now: a signature only to a person ready to
sign (active, identity checked, trained: edms.signatures.availability; what they do for themselves, like
acknowledging the policy, is left to the signing page, which explains it); a record to create whose
prerequisites are not approved yet says what it waits for (`waiting_for`) and is not work waiting.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from edms.cases import models as cm
from edms.cases.deadlines import DUE_SOON, OVERDUE, PENDING
from edms.cases.queries import case_documents, case_signing_reasons, case_status
from edms.cases.regimes import Regime
from edms.documents import models as dm
from edms.documents.types import CASE_PHYSICIAN, DocumentType, LocalizedText
from edms.signatures.availability import Readiness
from edms.signatures.planning import signed_steps
from edms.users.models import User
from edms.users.roles import CONTENT_ROLES
from edms.workflow import routing
from edms.workflow.assignees import named_people
from edms.workflow.delegations import acting_for
from edms.workflow.refusals import SigningRefused
from edms.workflow.visibility import sees_every_case, visible_case_ids

SIGN = "sign"
DRAFT = "draft"
CASE = "case"

OPEN_DEADLINE_STATES = frozenset({PENDING, DUE_SOON, OVERDUE})
# A released case still has work: administration, and the notifications and reports that follow it.
ACTIVE_CASES = (cm.OPEN, cm.RELEASED)


@dataclass(frozen=True)
class Task:
    kind: str  # SIGN, DRAFT or CASE
    title: str
    type_key: str
    since: datetime  # when the task arose; the oldest comes first among equals
    document_id: int | None = None
    document_number: str | None = None
    version: int | None = None
    status: str | None = None  # the version's status for a DRAFT task (draft or rejected)
    case_id: int | None = None
    case_reference: str | None = None
    step: LocalizedText | None = None
    step_name: str | None = None
    role: str | None = None
    due_at: datetime | None = None  # UTC: the case's earliest open deadline
    overdue: bool = False
    on_behalf_of: str | None = None  # printed name of the absent person this task is delegated from
    waiting_for: tuple[LocalizedText, ...] = ()  # what a CASE or SIGN task waits for (the case's prerequisites)

    @property
    def waiting(self) -> bool:
        """Blocked by a prerequisite: shown, but not work the person can do now."""
        return bool(self.waiting_for)


@dataclass(frozen=True)
class _Clock:
    due_at: datetime | None
    overdue: bool
    reference: str | None = None


def tasks_for(session: Session, user: User, *, document_types: Mapping[str, DocumentType],
              regimes: Mapping[str, Regime], now: datetime) -> list[Task]:
    roles = frozenset(user.roles)
    if not roles & CONTENT_ROLES:
        return []  # administrators and inspectors never sign, author or create records
    clocks: dict[int, _Clock] = {}

    def clock(case_id: int | None) -> _Clock:
        if case_id is None:
            return _Clock(None, False)
        if case_id not in clocks:
            case = session.get(cm.Case, case_id)
            clocks[case_id] = _case_clock(session, case, document_types, regimes, now)
        return clocks[case_id]

    # Case tasks first: they fill `clocks`, so each open case's deadlines are computed once.
    tasks = _case_tasks(session, user, roles, document_types, regimes, now, clocks)
    tasks += _sign_tasks(session, user, roles, document_types, regimes, clock, now)
    tasks += _draft_tasks(session, user, document_types, clock)
    if not sees_every_case(user):  # a physician's work is in the cases of their sites and their own
        visible = set(session.scalars(visible_case_ids(user)))
        tasks = [task for task in tasks if task.case_id is None or task.case_id in visible]
    return sorted(tasks, key=lambda t: (not t.overdue, t.due_at is None, t.due_at or now, t.since))


def _case_clock(session: Session, case: cm.Case | None, document_types, regimes, now: datetime) -> _Clock:
    if case is None:
        return _Clock(None, False)
    if case.status not in ACTIVE_CASES or case.regime_key not in regimes:
        return _Clock(None, False, case.reference)  # a closed case's clocks no longer drive anyone's work
    status = case_status(session, case, document_types, regimes, now)
    return _earliest(case, status.deadlines)


def _earliest(case: cm.Case, deadlines) -> _Clock:
    open_ = [d for d in deadlines if d.state in OPEN_DEADLINE_STATES and d.due_at is not None]
    if not open_:
        return _Clock(None, False, case.reference)
    return _Clock(min(d.due_at for d in open_), any(d.state == OVERDUE for d in open_), case.reference)


def _latest_versions(session: Session, *conditions):
    """(document, its latest version) pairs, the version matching `conditions`."""
    newer = aliased(dm.DocumentVersion)
    latest = select(func.max(newer.version)).where(newer.document_id == dm.Document.id).scalar_subquery()
    query = (select(dm.Document, dm.DocumentVersion)
             .join(dm.DocumentVersion, dm.DocumentVersion.document_id == dm.Document.id)
             .where(dm.DocumentVersion.version == latest, dm.Document.status != dm.WITHDRAWN, *conditions)
             .order_by(dm.Document.id))
    return session.execute(query).all()


def _sign_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, clock,
                now: datetime) -> list[Task]:
    """One task per open step this person may sign (parallel steps give several)."""
    tasks = []
    delegated = acting_for(session, user.id, now)
    readiness = Readiness(session, now)
    rows = _latest_versions(session, dm.DocumentVersion.status == dm.IN_REVIEW, dm.DocumentVersion.frozen_at.is_not(None))
    for document, version in rows:
        doc_type = document_types.get(document.type_key)
        if doc_type is None or not roles & doc_type.signing_roles:
            continue
        signed = signed_steps(session, version)
        states = routing.progress(doc_type.steps, signed)
        signer = routing.Signer(user.id, roles, user.id in (version.created_by, document.owner_id), delegated)
        named = named_people(session, document)
        waiting: tuple[LocalizedText, ...] | None = None  # the case's prerequisites, read once per version
        for target in (item for item in states if item.due):
            try:
                grounds = routing.authority(states, target, signer, named)
            except SigningRefused:
                continue
            if readiness.person(user, doc_type).problems(grounds.role):
                continue  # not ready (locked, untrained...): the record's page and its owner's inbox say so
            due = clock(document.case_id)
            if waiting is None:
                waiting = tuple(case_signing_reasons(session, document, types=document_types, regimes=regimes))
            tasks.append(Task(SIGN, version.title, document.type_key, version.status_changed_at,
                              document_id=document.id, document_number=document.number, version=version.version,
                              case_id=document.case_id, case_reference=due.reference, step=target.step.label,
                              step_name=target.step.name, role=grounds.role, due_at=due.due_at, overdue=due.overdue,
                              on_behalf_of=grounds.on_behalf_of.printed_name if grounds.on_behalf_of else None,
                              waiting_for=waiting))
    return tasks


def _draft_tasks(session: Session, user: User, document_types, clock) -> list[Task]:
    tasks = []
    rows = _latest_versions(session, dm.Document.owner_id == user.id,
                            dm.DocumentVersion.status.in_((dm.DRAFT, dm.REJECTED)))
    for document, version in rows:
        if document.type_key not in document_types:
            continue
        due = clock(document.case_id)
        tasks.append(Task(DRAFT, version.title, document.type_key, version.status_changed_at, document_id=document.id,
                          document_number=document.number, version=version.version, status=version.status,
                          case_id=document.case_id, case_reference=due.reference, due_at=due.due_at,
                          overdue=due.overdue))
    return tasks


def _case_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, now: datetime,
                clocks: dict[int, _Clock]) -> list[Task]:
    tasks = []
    covering = {user.id, *acting_for(session, user.id, now)}  # myself, and whoever delegated to me
    cases = session.scalars(select(cm.Case).where(cm.Case.status.in_(ACTIVE_CASES)).order_by(cm.Case.id))
    for case in cases:
        if case.regime_key not in regimes:
            continue
        status = case_status(session, case, document_types, regimes, now)
        clocks[case.id] = due = _earliest(case, status.deadlines)
        existing = {d.type_key for d in case_documents(session, case) if d.status != dm.WITHDRAWN}
        for item in status.checklist:
            # A record to create is the task of those who write it (its first step's roles), once it surely
            # applies; an unanswered condition is asked on the case page, not guessed here.
            if item.satisfied or item.applies is not True or item.document.type_key in existing:
                continue
            first = item.document.document_type.steps[0]
            role = next((r for r in first.roles if r in roles), None)
            if role is None:
                continue
            if first.signer == CASE_PHYSICIAN and case.physician_id and case.physician_id not in covering:
                continue  # a record the case's physician writes is not every physician's task
            tasks.append(Task(CASE, item.document.document_type.name.en, item.document.type_key, case.created_at,
                              case_id=case.id, case_reference=case.reference, role=role,
                              due_at=due.due_at, overdue=due.overdue,
                              waiting_for=tuple(blocker.reason for blocker in item.blockers)))
    return tasks
