"""Delegation: while a person is absent, another holder of the same role signs their named steps.

A delegation row is never deleted; it ends at `ends_at` or when revoked (once, with a reason), and both
acts are in the audit trail. A signature made under it names it in its signed manifest.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from edms.cases import models as _cases  # noqa: F401  (registers the tables the foreign keys name)
from edms.db import Base, UTCDateTime
from edms.documents import models as _documents  # noqa: F401


class Delegation(Base):
    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delegator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(32), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    def active_at(self, moment: datetime) -> bool:
        return self.revoked_at is None and self.starts_at <= moment < self.ends_at


class TaskEscalation(Base):
    """An overdue task escalated at one level (1: overdue; higher: overdue for longer), once: the unique key
    (task, level) makes `edms escalate` safe to run again and again. Rows are never changed or deleted."""

    __tablename__ = "task_escalations"
    __table_args__ = (UniqueConstraint("task_key", "level", name="uq_task_escalations_task_key_level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_key: Mapped[str] = mapped_column(String(200), nullable=False)
    level: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # the task's kind: sign, draft or case
    role: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    escalated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    notified: Mapped[int] = mapped_column(Integer, nullable=False)  # how many people were told
