"""A case's life: open it, record or correct its dates, answer its regime's questions, change its status
(released, cancelled...)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from edms.application import case_deadlines, concerned
from edms.application.services import Services
from edms.application.unit_of_work import use_case
from edms.audit import AuditContext
from edms.cases import models as cm
from edms.cases import operations as ops
from edms.cases.facts import CaseFacts
from edms.documents import models as dm
from edms.users.models import User
from edms.workflow.visibility import require_case


def open_case(services: Services, session: Session, ctx: AuditContext, user: User, facts: CaseFacts) -> cm.Case:
    with use_case(session):
        case = ops.create_case(session, ctx, user, services.regimes, facts)
        case_deadlines.refresh(services, session, case)
        return case


def record_date(services: Services, session: Session, ctx: AuditContext, user: User, case: cm.Case, key: str,
                value: datetime, reason: str | None) -> None:
    """A first value, or a correction (which needs a reason)."""
    with use_case(session):
        require_case(session, user, case)
        ops.record_date(session, ctx, user, case, key, value, reason)
        case_deadlines.refresh(services, session, case)


def answer_question(services: Services, session: Session, ctx: AuditContext, user: User, case: cm.Case, key: str,
                    answer: bool, reason: str | None) -> None:
    with use_case(session):
        require_case(session, user, case)
        ops.answer_question(session, ctx, user, case, services.regimes[case.regime_key], key, answer, reason)
        case_deadlines.refresh(services, session, case)


def change_status(services: Services, session: Session, ctx: AuditContext, user: User, case: cm.Case, status: str,
                  reason: str) -> None:
    """Release, cancel or reopen; release only once the regime allows it."""
    with use_case(session):
        require_case(session, user, case)
        old = case.status
        ops.set_status(session, ctx, user, case, status, reason, types=services.document_types,
                       regimes=services.regimes)
        case_deadlines.refresh(services, session, case)
        concerned.case_status_changed(session, ctx, services.settings.smtp, case, user, old, status, reason)


def attach_record(services: Services, session: Session, ctx: AuditContext, user: User, case: cm.Case,
                  document: dm.Document, reason: str) -> None:
    """An existing record written outside any case (same lot and patient) joins the case, with a reason;
    the case's checklist then counts it."""
    with use_case(session):
        require_case(session, user, case)
        ops.attach_document(session, ctx, user, case, document, services.regimes[case.regime_key],
                            services.document_types[document.type_key], reason)
        case_deadlines.refresh(services, session, case)


def change_physician(services: Services, session: Session, ctx: AuditContext, actor: User, case: cm.Case,
                     physician: User, reason: str) -> None:
    """An administrator names another treating physician; both physicians are told."""
    with use_case(session):
        previous = ops.change_physician(session, ctx, actor, case, physician, reason)
        concerned.physician_changed(session, ctx, services.settings.smtp, case, previous, physician, reason)
