"""Each case's next deadline, computed once per change rather than on every page.

A case's deadlines depend on its dates, its answers, its status and its records (their values and whether
they are approved). Every use case that changes one of these ends with `refresh(...)`, which computes the
deadlines (edms.cases.deadlines, the one place they are computed) and stores the most pressing open "not
after" deadline on the case: its key, due time and warning time. Which one is most pressing does not
depend on the clock (an overdue one is the earliest due), so lists, the inbox and escalations read the
stored times and state them at the moment they are shown (`running_deadline`), without reading a record.

The stored value is a projection, like an index: it is not a record and its refresh is not audited (the
change that caused it is). A case stored before this existed (`deadlines_at` empty) is computed on read
until its next change. `check_case_deadlines` (in `edms verify`) and `mismatches(...)` recompute every case and name any
stored value that differs.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.application import case_tasks
from edms.application.services import Services
from edms.audit.integrity import VerificationRun
from edms.cases import models as cm
from edms.cases.deadlines import DUE_SOON, OVERDUE, PENDING, DeadlineStatus, running_deadline
from edms.cases.queries import CaseStatus, case_status
from edms.cases.regimes import Regime
from edms.documents import models as dm
from edms.documents.types import DocumentType
from edms.errors import N_
from edms.timeutil import utc_now

ACTIVE = (cm.OPEN, cm.RELEASED)


def pick_next(deadlines: Iterable[DeadlineStatus]) -> DeadlineStatus | None:
    """The most pressing open "not after" deadline: the earliest due (an overdue one is earlier than any other)."""
    running = [d for d in deadlines if d.due_at is not None and d.met_at is None and d.warn_at is not None
               and d.state in (OVERDUE, DUE_SOON, PENDING) and d.deadline.direction == "not_after"]
    return min(running, key=lambda d: (d.due_at, d.key), default=None)


def computed_next(services: Services, session: Session, case: cm.Case, now: datetime) -> DeadlineStatus | None:
    """The case's next deadline computed from its records now (the reference the stored value must equal)."""
    return _computed(services.document_types, services.regimes, session, case, now)


def _computed(types: Mapping[str, DocumentType], regimes: Mapping[str, Regime], session: Session, case: cm.Case,
              now: datetime) -> DeadlineStatus | None:
    status = _status(types, regimes, session, case, now)
    return pick_next(status.deadlines) if status is not None else None


def _status(types: Mapping[str, DocumentType], regimes: Mapping[str, Regime], session: Session, case: cm.Case,
            now: datetime) -> CaseStatus | None:
    if case.status not in ACTIVE or case.regime_key not in regimes:
        return None
    return case_status(session, case, types, regimes, now)


def refresh(services: Services, session: Session, case: cm.Case | int | None) -> None:
    """Store the case's next deadline after a change to what it depends on (a case, or its id)."""
    if case is None:
        return
    if isinstance(case, int):
        found = session.get(cm.Case, case)
        if found is None:
            return
        case = found
    now = utc_now()
    status = _status(services.document_types, services.regimes, session, case, now)
    due = pick_next(status.deadlines) if status is not None else None
    case_tasks.store(session, case, status)  # the records it still needs: the same inputs (edms.application.case_tasks)
    case.next_deadline_key = due.key if due else None
    case.next_due_at = due.due_at if due else None
    case.next_warn_at = due.warn_at if due else None
    case.deadlines_at = now


def refresh_document(services: Services, session: Session, document: dm.Document) -> None:
    """After a change to a record: its case's deadlines (a record outside any case has none)."""
    refresh(services, session, document.case_id)


def stored_next(services: Services, session: Session, case: cm.Case, now: datetime) -> DeadlineStatus | None:
    """The case's next deadline as stored, stated at `now`; computed for a case stored before it was kept."""
    return stored_next_of(services.document_types, services.regimes, session, case, now)


def stored_next_of(types: Mapping[str, DocumentType], regimes: Mapping[str, Regime], session: Session, case: cm.Case,
                   now: datetime) -> DeadlineStatus | None:
    """`stored_next` given the document types and regimes rather than the services (the inbox's clock)."""
    if case.deadlines_at is None:
        return _computed(types, regimes, session, case, now)
    regime = regimes.get(case.regime_key)
    if case.next_deadline_key is None or regime is None or case.next_due_at is None or case.next_warn_at is None:
        return None
    deadline = next((d for d in regime.deadlines if d.key == case.next_deadline_key), None)
    if deadline is None:
        return _computed(types, regimes, session, case, now)  # the regime no longer has it: state what is true
    return running_deadline(deadline, due_at=case.next_due_at, warn_at=case.next_warn_at, now=now,
                            site_zone=case.site_timezone)


def next_deadlines(services: Services, session: Session, cases: Iterable[cm.Case],
                   now: datetime) -> dict[int, DeadlineStatus]:
    """The next deadline of each active case of a page, by case id, from the stored values."""
    found = {}
    for case in cases:
        if case.status in ACTIVE:
            due = stored_next(services, session, case, now)
            if due is not None:
                found[case.id] = due
    return found


def differences(services: Services, session: Session, case: cm.Case, now: datetime) -> str | None:
    """How the stored next deadline differs from the computed one; None when they agree (or none is stored)."""
    return _differences(services.document_types, services.regimes, session, case, now)


def _shown(key: str | None, due_at: datetime | None) -> str:
    return f"{key} due {due_at.isoformat()}" if key and due_at else "none"


def _differences(types: Mapping[str, DocumentType], regimes: Mapping[str, Regime], session: Session, case: cm.Case,
                 now: datetime) -> str | None:
    if case.deadlines_at is None:
        return None
    due = _computed(types, regimes, session, case, now)
    want = (due.key, due.due_at, due.warn_at) if due else (None, None, None)
    have = (case.next_deadline_key, case.next_due_at, case.next_warn_at)
    if want == have:
        return None
    return f"stored {_shown(have[0], have[1])}, computed {_shown(want[0], want[1])}"


def mismatches(services: Services, session: Session, *, batch_size: int = 200) -> list[str]:
    """Every case whose stored next deadline differs from the one computed from its records (a consistency
    check `edms verify` can run; read in batches so memory does not grow with the archive)."""
    now, last, found = utc_now(), 0, list[str]()
    while True:
        batch = list(session.scalars(select(cm.Case).where(cm.Case.id > last).order_by(cm.Case.id).limit(batch_size)))
        if not batch:
            return found
        for case in batch:
            if problem := differences(services, session, case, now):
                found.append(f"case {case.reference}: next deadline {problem}")
            status = _status(services.document_types, services.regimes, session, case, now)
            if problem := case_tasks.differences(session, case, status):
                found.append(f"case {case.reference}: records it needs {problem}")
        last = batch[-1].id


def check_case_deadlines(run: VerificationRun) -> None:
    """`edms verify`: each case's stored next deadline is the one computed from its records now. The run
    gives the regimes and document types (`regimes=`, `document_types=`); without them nothing is compared."""
    regimes, types = run.options.get("regimes"), run.options.get("document_types")
    if regimes is None or types is None:
        run.warning("case", "*", N_("stored next deadlines not compared: the run was not given the regimes"))
        return
    now, last = utc_now(), 0
    with Session(bind=run.connection) as session:
        while True:
            batch = list(session.scalars(select(cm.Case).where(cm.Case.id > last).order_by(cm.Case.id).limit(200)))
            if not batch:
                return
            for case in batch:
                problem = _differences(types, regimes, session, case, now)
                if problem:
                    run.problem("case", case.reference, N_("the stored next deadline differs from the one its "
                                                            "records give: %(difference)s"), difference=problem)
                tasks_problem = case_tasks.differences(session, case, _status(types, regimes, session, case, now))
                if tasks_problem:
                    run.problem("case", case.reference, N_("the stored records the case still needs differ from its "
                                                            "checklist: %(difference)s"), difference=tasks_problem)
            run.examined("case", len(batch))
            last = batch[-1].id
            session.expunge_all()  # memory does not grow with the archive
