"""One row per job: what to do (kind, parameters), who asked, its lease, its progress and its outcome.

A job is never deleted; its status moves queued -> running -> succeeded | failed (or back to queued for a
retry), each move audited. A running job holds a lease (`lease_owner`, `lease_expires_at`) that its
worker's heartbeat extends: a job whose lease expired (its worker was killed) is claimed again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edms.db import Base, UTCDateTime
from edms.errors import N_
from edms.users.models import User

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
OPEN = (QUEUED, RUNNING)

STATUS_LABELS = {
    QUEUED: N_("Waiting"),
    RUNNING: N_("Running"),
    SUCCEEDED: N_("Done"),
    FAILED: N_("Failed"),
}


class Job(Base):
    __tablename__ = "jobs"
    # A person's own jobs, newest first (edms.jobs.queries.jobs; 0022_scale_lists); a kind's newest jobs, for the
    # schedule of the periodic ones (edms.jobs.queries.latest_of_kind; 0024_jobs_kind_index).
    __table_args__ = (Index("ix_jobs_requested_by_id", "requested_by", "id"), Index("ix_jobs_kind_id", "kind", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system (a schedule)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_done: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    phase: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The kind while a periodic job is open (queued or running), NULL otherwise: a unique index keeps one at a time.
    singleton: Mapped[str | None] = mapped_column(String(64), unique=True)

    requester: Mapped[User | None] = relationship(lazy="selectin")

    @property
    def finished(self) -> bool:
        return self.status in (SUCCEEDED, FAILED)
