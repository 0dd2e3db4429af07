"""State changes of the workflow domain: an overdue task's escalation and the audited refusal of a
submission that could never be completed (each with its audit event)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.documents import models as dm
from edms.errors import N_
from edms.timeutil import isoformat_utc
from edms.workflow.completability import BlockedStep, summary
from edms.workflow.models import TaskEscalation
from edms.workflow.refusals import SubmissionRefused


def escalated_levels(session: Session, task_key: str) -> set[int]:
    return set(session.scalars(select(TaskEscalation.level).where(TaskEscalation.task_key == task_key)))


def record_escalation(session: Session, ctx: AuditContext, *, task_key: str, level: int, kind: str, role: str | None,
                      case_id: int | None, document_id: int | None, due_at: datetime, now: datetime,
                      recipients: list[str], reason: str) -> TaskEscalation:
    """One escalation of one task at one level, audited as `task.escalated` with who was told and why."""
    row = TaskEscalation(task_key=task_key, level=level, kind=kind, role=role, case_id=case_id,
                         document_id=document_id, due_at=due_at, escalated_at=now, notified=len(recipients))
    session.add(row)
    session.flush()
    record(session, ctx, "task.escalated", "task_escalation", row.id, case_id=case_id, reason=reason, changes={
        "task": {"old": None, "new": task_key},
        "level": {"old": level - 1, "new": level},
        "due_at": {"old": None, "new": isoformat_utc(due_at)},
        "notified": {"old": None, "new": sorted(recipients)},
    })
    return row


def blocked_json(blocked: BlockedStep) -> dict[str, object]:
    """The blocked step as the audit trail and the API carry it (English, with the machine codes)."""
    return {
        "step": blocked.step.name, "step_label": blocked.step.label.en, "remaining": blocked.remaining,
        "missing": blocked.missing.text.en,
        "people": [{"user_id": o.user_id or None, "printed_name": o.printed_name or None,
                    "reasons": [r.code for r in o.reasons], "explanation": "; ".join(r.text.en for r in o.reasons)}
                   for o in blocked.obstacles],
        "advice": [{"code": a.code, "text": a.text.en} for a in blocked.advice],
    }


def refuse_submission(session: Session, ctx: AuditContext, document: dm.Document, draft: dm.DocumentVersion,
                      blocked: BlockedStep) -> SubmissionRefused:
    """Record the refusal (nothing else changes) and return the error to raise."""
    text = summary(blocked)
    record(session, ctx, "document.submission_refused", "document", document.id, document_version=draft.version,
           case_id=document.case_id, reason=text.en, changes={"not_completable": {"old": None, "new": blocked_json(blocked)}})
    return SubmissionRefused(N_("This version cannot be submitted: %(why)s"), blocked=blocked, why=text)
