"""Reading jobs: one job, a person's jobs, every job (administrators)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from edms.jobs.models import FAILED, OPEN, SUCCEEDED, Job
from edms.users.roles import ADMIN


def job_by_id(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


# The order of the jobs lists (keyset pages, edms.paging): newest first.
NEWEST_FIRST = (Job.id,)


def jobs_query(*, requested_by: int | None = None) -> Select[Any]:
    """Those one person requested (index ix_jobs_requested_by_id), or every job (administrators); paged by
    NEWEST_FIRST."""
    query = select(Job)
    if requested_by is not None:
        query = query.where(Job.requested_by == requested_by)
    return query


def jobs(session: Session, *, requested_by: int | None = None, limit: int = 200) -> list[Job]:
    """Newest first; those one person requested, or every job."""
    return list(session.scalars(jobs_query(requested_by=requested_by).order_by(Job.id.desc()).limit(limit)))


def latest_of_kind(session: Session, kind: str) -> Job | None:
    """The newest job of `kind` (None: never requested)."""
    return session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id.desc()).limit(1)).first()


def last_finished_of_kind(session: Session, kind: str) -> Job | None:
    """The newest finished (succeeded or failed) job of `kind`: its last result."""
    return session.scalars(select(Job).where(Job.kind == kind, Job.status.in_((SUCCEEDED, FAILED)))
                           .order_by(Job.id.desc()).limit(1)).first()


def open_kinds(session: Session) -> set[str]:
    return set(session.scalars(select(Job.kind).where(Job.status.in_(OPEN)).distinct()))


def last_requested(session: Session, kind: str):
    """When the newest job of `kind` was requested (None: never)."""
    return session.scalar(select(Job.requested_at).where(Job.kind == kind).order_by(Job.id.desc()).limit(1))


def may_read(job: Job, user) -> bool:
    """The requester sees their job; administrators see every job."""
    return job.requested_by == user.id or user.has_role(ADMIN)
