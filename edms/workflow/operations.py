"""State changes of the workflow domain: recording an overdue task's escalation (each with its audit event)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.timeutil import isoformat_utc
from edms.workflow.models import TaskEscalation


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
