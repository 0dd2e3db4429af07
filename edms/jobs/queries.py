"""Reading jobs: one job, a person's jobs, every job (administrators)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from edms.jobs.models import OPEN, Job
from edms.users.roles import ADMIN


def job_by_id(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def jobs(session: Session, *, requested_by: int | None = None, limit: int = 200) -> list[Job]:
    """Newest first; those one person requested, or every job."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if requested_by is not None:
        query = query.where(Job.requested_by == requested_by)
    return list(session.scalars(query))


def open_kinds(session: Session) -> set[str]:
    return set(session.scalars(select(Job.kind).where(Job.status.in_(OPEN)).distinct()))


def last_requested(session: Session, kind: str):
    """When the newest job of `kind` was requested (None: never)."""
    return session.scalar(select(Job.requested_at).where(Job.kind == kind).order_by(Job.id.desc()).limit(1))


def may_read(job: Job, user) -> bool:
    """The requester sees their job; administrators see every job."""
    return job.requested_by == user.id or user.has_role(ADMIN)
