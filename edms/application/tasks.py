"""The task inbox: what a person must sign, revise or create next, most urgent first.

Read on every call from the records and from what each case stores it still needs and when its next deadline
falls (edms.application.case_tasks, case_deadlines: both rewritten by every change of the case, in its
transaction), so an inbox can never disagree with the documents, signatures and case clocks it summarises. The
signing rules are the ceremony's own (workflow.routing), so nobody is offered a signature the ceremony would
refuse on authority grounds (11.10(g)). A task is shown only to someone who can act on it now: a signature
only to a person ready to sign (active, identity checked, trained: edms.signatures.availability; what they do
for themselves, like acknowledging the policy, is left to the signing page, which explains it); a record to
create whose prerequisites are not approved yet says what it waits for (`waiting_for`) and is not work
waiting.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from edms import paging
from edms.application import case_tasks
from edms.application.case_deadlines import stored_next_of
from edms.cases import models as cm
from edms.cases.deadlines import DUE_SOON, OVERDUE, PENDING
from edms.cases.queries import case_signing_reasons, case_status
from edms.cases.regimes import Regime
from edms.documents import models as dm
from edms.documents.types import DocumentType, LocalizedText
from edms.paging import BadCursor, Page, decode_cursor, encode_cursor
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


Key = tuple[object, ...]  # the key of the last row a read gave: where its next page starts
END: Key = ()  # the read has given every row


@dataclass(frozen=True)
class Position:
    """Where each of the inbox's three reads stands (None: at its start): the records cases need, by the case's
    stored next deadline (deadline or None, case id); the versions to sign (status_changed_at, version id); the own
    drafts (document id, newest first)."""

    cases: Key | None = None
    signatures: Key | None = None
    drafts: Key | None = None


_ENDED = "-"  # a read that has ended, in a cursor (never base64url JSON, which starts with "W")


def encode_position(position: Position) -> str:
    """The inbox's cursor: the three reads' keys, each an edms.paging cursor, joined by dots."""
    parts = []
    for key in (position.cases, position.signatures, position.drafts):
        if not key:  # END (a next page always follows a first one, which started every read)
            parts.append(_ENDED)
        else:
            parts.append(encode_cursor([value for value in key if value is not None]))
    return ".".join(parts)


def decode_position(cursor: str) -> Position:
    """The positions an inbox cursor holds; BadCursor for anything `encode_position` did not give out."""
    parts = cursor.split(".")
    if len(cursor) > paging.MAX_CURSOR or len(parts) != 3:
        raise BadCursor("the cursor is not one of this list's")
    cases, signatures, drafts = (None if part == _ENDED else part for part in parts)
    if cases is signatures is drafts is None:
        raise BadCursor("the cursor is not one of this list's")  # every read ended: the last page has no cursor
    case_key: Key = END
    if cases is not None:
        try:
            case_key = decode_cursor(cases, [datetime, int])
        except BadCursor:
            case_key = (None, *decode_cursor(cases, [int]))  # a case without a running deadline
    return Position(case_key, END if signatures is None else decode_cursor(signatures, [datetime, int]),
                    END if drafts is None else decode_cursor(drafts, [int]))


@dataclass(frozen=True)
class _Clock:
    due_at: datetime | None
    overdue: bool
    reference: str | None = None


def tasks_for(session: Session, user: User, *, document_types: Mapping[str, DocumentType],
              regimes: Mapping[str, Regime], now: datetime, case_limit: int | None = None) -> list[Task]:
    """The person's tasks, most urgent first. Records to create come from what each case stores it needs
    (edms.application.case_tasks); with `case_limit`, only those of that many most pressing cases, the
    signatures of that many versions in review (longest waiting) and that many own drafts (newest): the first
    page of the inbox (`inbox_page`)."""
    return _collect(session, user, document_types, regimes, now, case_limit, Position())[0]


def inbox_page(session: Session, user: User, *, document_types: Mapping[str, DocumentType],
               regimes: Mapping[str, Regime], now: datetime, cursor: str | None, limit: int) -> Page[Task]:
    """One page of the inbox: the tasks of the next `limit` cases (most pressing deadline first), the next `limit`
    versions in review the person's roles sign (longest waiting first) and the next `limit` own drafts (newest
    first), after the positions `cursor` holds; the page's tasks most urgent first. Every task is on exactly one
    page; the order holds within each of the three reads, so a later page may hold a task more urgent than one
    of an earlier page (the cases are in deadline order across pages). BadCursor for a cursor not of this list."""
    position = decode_position(cursor) if cursor else Position()
    tasks, following = _collect(session, user, document_types, regimes, now, limit, position)
    return Page(tasks, encode_position(following) if following is not None else None)


def _collect(session: Session, user: User, document_types: Mapping[str, DocumentType], regimes: Mapping[str, Regime],
             now: datetime, limit: int | None, position: Position) -> tuple[list[Task], Position | None]:
    roles = frozenset(user.roles)
    if not roles & CONTENT_ROLES:
        return [], None  # administrators and inspectors never sign, author or create records
    clocks: dict[int, _Clock] = {}

    def clock(case_id: int | None) -> _Clock:
        if case_id is None:
            return _Clock(None, False)
        if case_id not in clocks:
            clocks[case_id] = _case_clock(session, session.get(cm.Case, case_id), document_types, regimes, now)
        return clocks[case_id]

    tasks, cases = _case_tasks(session, user, roles, document_types, regimes, now, clock, limit, position.cases)
    signing, signatures = _sign_tasks(session, user, roles, document_types, regimes, clock, now, limit,
                                      position.signatures)
    drafting, drafts = _draft_tasks(session, user, document_types, clock, limit, position.drafts)
    tasks += signing + drafting
    if not sees_every_case(user):  # a physician's work is in the cases of their sites and their own
        visible = set(session.scalars(visible_case_ids(user)))
        tasks = [task for task in tasks if task.case_id is None or task.case_id in visible]
    tasks.sort(key=lambda t: (not t.overdue, t.due_at is None, t.due_at or now, t.since))
    following = Position(cases, signatures, drafts)
    return tasks, None if following == Position(END, END, END) else following


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


def _latest_versions(session: Session, *conditions, limit: int | None = None, first=(), after: Key | None = None,
                     descending: bool = False):
    """(document, its latest version) pairs, the version matching `conditions`; with `limit`, that many, in the
    order of the columns `first` (an index walks them, so the read stops after `limit` rows instead of sorting
    them all), after the key `after` of the last row of the previous page.

    The latest version is the one the record names (`current_version`, kept by the operations that add a version),
    joined on the unique (document_id, version): a correlated `max(version)` subquery gave the same rows, but
    PostgreSQL estimates such a condition to keep 0.5 % of the rows, so at 10⁵ records it hashed every record and
    every version and sorted them (about a second) instead of walking the index for the first `limit`."""
    query = (select(dm.Document, dm.DocumentVersion)
             .join(dm.DocumentVersion, and_(dm.DocumentVersion.document_id == dm.Document.id,
                                            dm.DocumentVersion.version == dm.Document.current_version))
             .where(dm.Document.status != dm.WITHDRAWN, *conditions)
             .order_by(dm.Document.id))
    if limit is not None:
        if after is not None:
            lead = first[0] <= after[0] if descending else first[0] >= after[0]
            query = query.where(lead, paging.after(first, after, descending=descending))
        query = query.order_by(None).order_by(*[k.desc() if descending else k for k in first]).limit(limit)
    return session.execute(query).all()


def _cases_of(session: Session, rows) -> list[cm.Case]:
    """The cases of a page's records read at once (with their dates and answers), so that each record's named
    people and clock find its case in the session instead of reading it: one statement, not three per record.
    The caller holds the list while it uses them (the session keeps its objects by weak reference)."""
    case_ids = {document.case_id for document, _version in rows if document.case_id is not None}
    return list(session.scalars(select(cm.Case).where(cm.Case.id.in_(case_ids)))) if case_ids else []


def _sign_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, clock,
                now: datetime, limit: int | None, after: Key | None) -> tuple[list[Task], Key]:
    """One task per open step this person may sign (parallel steps give several); with `limit`, among that many
    versions in review of the types the person's roles sign, those waiting longest (after the key `after`); and the
    key (status_changed_at, version id) of the last version read when more follow, END otherwise."""
    tasks: list[Task] = []
    if after == END:
        return tasks, END
    delegated = acting_for(session, user.id, now)
    readiness = Readiness(session, now)
    signable = sorted(key for key, doc_type in document_types.items() if roles & doc_type.signing_roles)
    rows = _latest_versions(session, dm.DocumentVersion.status == dm.IN_REVIEW, dm.DocumentVersion.frozen_at.is_not(None),
                            dm.Document.type_key.in_(signable), limit=None if limit is None else limit + 1,
                            first=(dm.DocumentVersion.status_changed_at, dm.DocumentVersion.id),  # longest waiting
                            after=after)
    following = END
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        following = (rows[-1][1].status_changed_at, rows[-1][1].id)
    cases = _cases_of(session, rows)  # noqa: F841  (held: the loop finds them in the session)
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
    return tasks, following


def _draft_tasks(session: Session, user: User, document_types, clock, limit: int | None,
                 after: Key | None) -> tuple[list[Task], Key]:
    """The person's own drafts and refused versions to revise; with `limit`, those of the newest records (before
    the record `after`); and the key (document id) of the last record read when more follow, END otherwise."""
    tasks: list[Task] = []
    if after == END:
        return tasks, END
    rows = _latest_versions(session, dm.Document.owner_id == user.id,
                            dm.DocumentVersion.status.in_((dm.DRAFT, dm.REJECTED)),
                            limit=None if limit is None else limit + 1, first=(dm.Document.id,), after=after,
                            descending=True)  # the newest records (ix_documents_owner_id_id)
    following = END
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        following = (rows[-1][0].id,)
    cases = _cases_of(session, rows)  # noqa: F841  (held: the loop finds them in the session)
    for document, version in rows:
        if document.type_key not in document_types:
            continue
        due = clock(document.case_id)
        tasks.append(Task(DRAFT, version.title, document.type_key, version.status_changed_at, document_id=document.id,
                          document_number=document.number, version=version.version, status=version.status,
                          case_id=document.case_id, case_reference=due.reference, due_at=due.due_at,
                          overdue=due.overdue))
    return tasks, following


def _case_tasks(session: Session, user: User, roles: frozenset[str], document_types, regimes, now: datetime, clock,
                limit: int | None, after: Key | None) -> tuple[list[Task], Key]:
    """The records the cases need from the person's roles (of `limit` cases after the case `after`; the cases
    stored before their needs were kept on the first page); and the last case's (next deadline, id) when more
    cases follow, END otherwise."""
    tasks: list[Task] = []
    if after == END:
        return tasks, END
    covering = {user.id, *acting_for(session, user.id, now)}  # myself, and whoever delegated to me
    position = cast(case_tasks.CasePosition, after) if after is not None else None
    pending, following = case_tasks.pending_for(session, sorted(roles), regimes, limit=limit, after=position)
    if after is None:
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
    return tasks, END if following is None else following


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
