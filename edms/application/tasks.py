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

from edms.application import case_tasks
from edms.application.case_deadlines import stored_next_of
from edms.cases import models as cm
from edms.cases.deadlines import DUE_SOON, OVERDUE, PENDING
from edms.cases.queries import case_signing_reasons, case_status
from edms.cases.regimes import Regime
from edms.documents import models as dm
from edms.documents.types import DocumentType, LocalizedText
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
# The inbox pages and the API read the records to create of this many cases at most, this many versions in
# review to sign (longest waiting) and this many own drafts (newest), the cases with the most pressing deadlines
# first (escalations and assignments read them all):
# an inbox costs the same with 10² or 10⁴ open cases.
INBOX_CASES = 50


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
              regimes: Mapping[str, Regime], now: datetime, case_limit: int | None = None) -> list[Task]:
    """The person's tasks, most urgent first. Records to create come from what each case stores it needs
    (edms.application.case_tasks); with `case_limit`, only those of that many most pressing cases, the
    signatures of that many versions in review (longest waiting) and that many own drafts (newest): the pages
    read a bounded number of rows however many cases are open."""
    roles = frozenset(user.roles)
    if not roles & CONTENT_ROLES:
        return []  # administrators and inspectors never sign, author or create records
    clocks: dict[int, _Clock] = {}

    def clock(case_id: int | None) -> _Clock:
        if case_id is None:
            return _Clock(None, False)
        if case_id not in clocks:
            clocks[case_id] = _case_clock(session, session.get(cm.Case, case_id), document_types, regimes, now)
        return clocks[case_id]

    tasks = _case_tasks(session, user, roles, document_types, regimes, now, clock, case_limit)
    tasks += _sign_tasks(session, user, roles, document_types, regimes, clock, now, case_limit)
    tasks += _draft_tasks(session, user, document_types, clock, case_limit)
    if not sees_every_case(user):  # a physician's work is in the cases of their sites and their own
        visible = set(session.scalars(visible_case_ids(user)))
        tasks = [task for task in tasks if task.case_id is None or task.case_id in visible]
    return sorted(tasks, key=lambda t: (not t.overdue, t.due_at is None, t.due_at or now, t.since))


def _case_clock(session: Session, case: cm.Case | None, document_types, regimes, now: datetime) -> _Clock:
    """The case's next deadline as stored (the one the case lists show), stated now."""
    if case is None:
        return _Clock(None, False)
    if case.status not in ACTIVE_CASES or case.regime_key not in regimes:
        return _Clock(None, False, case.reference)  # a closed case's clocks no longer drive anyone's work
    due = stored_next_of(document_types, regimes, session, case, now)
    if due is None or due.state not in OPEN_DEADLINE_STATES or due.due_at is None:
        return _Clock(None, False, case.reference)
    return _Clock(due.due_at, due.state == OVERDUE, case.reference)


def _latest_versions(session: Session, *conditions, limit: int | None = None, first=()):
    """(document, its latest version) pairs, the version matching `conditions`; with `limit`, that many, in the
    order `first` (columns an index walks, so the read stops after `limit` rows instead of sorting them all)."""
    newer = aliased(dm.DocumentVersion)
    latest = select(func.max(newer.version)).where(newer.document_id == dm.Document.id).scalar_subquery()
    query = (select(dm.Document, dm.DocumentVersion)
             .join(dm.DocumentVersion, dm.DocumentVersion.document_id == dm.Document.id)
             .where(dm.DocumentVersion.version == latest, dm.Document.status != dm.WITHDRAWN, *conditions)
             .order_by(dm.Document.id))
    if limit is not None:
        query = query.order_by(None).order_by(*first).limit(limit)
    return session.execute(query).all()


def _sign_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, clock,
                now: datetime, limit: int | None = None) -> list[Task]:
    """One task per open step this person may sign (parallel steps give several); with `limit`, among that many
    versions in review of the types the person's roles sign, those waiting longest."""
    tasks = []
    delegated = acting_for(session, user.id, now)
    readiness = Readiness(session, now)
    signable = sorted(key for key, doc_type in document_types.items() if roles & doc_type.signing_roles)
    rows = _latest_versions(session, dm.DocumentVersion.status == dm.IN_REVIEW, dm.DocumentVersion.frozen_at.is_not(None),
                            dm.Document.type_key.in_(signable), limit=limit,
                            first=(dm.DocumentVersion.status_changed_at, dm.DocumentVersion.id))  # longest waiting
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


def _draft_tasks(session: Session, user: User, document_types, clock, limit: int | None = None) -> list[Task]:
    """The person's own drafts and refused versions to revise; with `limit`, those of the newest records."""
    tasks = []
    rows = _latest_versions(session, dm.Document.owner_id == user.id,
                            dm.DocumentVersion.status.in_((dm.DRAFT, dm.REJECTED)), limit=limit,
                            first=(dm.Document.id.desc(),))  # the newest records
    for document, version in rows:
        if document.type_key not in document_types:
            continue
        due = clock(document.case_id)
        tasks.append(Task(DRAFT, version.title, document.type_key, version.status_changed_at, document_id=document.id,
                          document_number=document.number, version=version.version, status=version.status,
                          case_id=document.case_id, case_reference=due.reference, due_at=due.due_at,
                          overdue=due.overdue))
    return tasks


def _case_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, now: datetime, clock,
                limit: int | None) -> list[Task]:
    tasks = []
    covering = {user.id, *acting_for(session, user.id, now)}  # myself, and whoever delegated to me
    pending = case_tasks.pending_for(session, sorted(roles), regimes, limit=limit)
    pending += _legacy_pending(session, roles, document_types, regimes, now)
    for item in pending:
        case = item.case
        if item.physician_writes and case.physician_id and case.physician_id not in covering:
            continue  # a record the case's physician writes is not every physician's task
        doc_type = document_types.get(item.type_key)
        if doc_type is None:
            continue
        due = clock(case.id)
        tasks.append(Task(CASE, doc_type.name.en, item.type_key, case.created_at, case_id=case.id,
                          case_reference=case.reference, role=item.role, due_at=due.due_at, overdue=due.overdue,
                          waiting_for=item.waiting_for))
    return tasks


def _legacy_pending(session: Session, roles: frozenset[str], document_types, regimes,
                    now: datetime) -> list[case_tasks.PendingRecord]:
    """Active cases stored before their needs were kept (0022_scale_lists): computed on read until their next
    change stores them."""
    found = []
    legacy = select(cm.Case).where(cm.Case.status.in_(ACTIVE_CASES), cm.Case.deadlines_at.is_(None)).order_by(cm.Case.id)
    for case in session.scalars(legacy):
        if case.regime_key not in regimes:
            continue
        status = case_status(session, case, document_types, regimes, now)
        chosen: set[str] = set()
        for needed in case_tasks.needed(session, case, status):
            if needed.role in roles and needed.type_key not in chosen:
                chosen.add(needed.type_key)
                found.append(case_tasks.PendingRecord(
                    case, needed.type_key, needed.role, needed.physician_writes,
                    tuple(LocalizedText(en=en, ja=ja) for en, ja in needed.waiting_for)))
    return found
