"""State changes of jobs, each audited in the caller's transaction: requested, started, progress (not
audited: a heartbeat), succeeded, retried, failed.

Claiming: one job at a time, the oldest that is queued or whose lease expired (its worker died). On
PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED` lets several workers claim side by side without ever taking
the same job; on SQLite every write transaction begins IMMEDIATE (one writer at a time) and one lock serialises
the claimers of a process, so there is one claimer at a time as well.
"""
from __future__ import annotations

import threading
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from edms.audit import AuditContext, record
from edms.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job

# Said when a lease ran out: the worker that held it stopped (killed, crashed, lost the database) mid-job.
LEASE_EXPIRED = "the worker running this job stopped before it finished (its lease expired)"
_SQLITE_CLAIMER = threading.Lock()
ERROR_MAX = 4000


def _audit(session: Session, ctx: AuditContext, action: str, job: Job, changes: dict[str, Any]) -> None:
    case_id = job.parameters.get("case_id") if isinstance(job.parameters, dict) else None
    record(session, ctx, action, "job", job.id, case_id=case_id, changes=changes)


def request(session: Session, ctx: AuditContext, kind: str, parameters: dict[str, Any], *, requested_by: int | None,
            now: datetime, max_attempts: int, singleton: bool = False) -> Job | None:
    """Queue a job and record `job.requested`. A `singleton` job (a periodic kind) is not queued, and None is
    returned, while another of its kind is still queued or running."""
    job = Job(kind=kind, parameters=dict(parameters), requested_by=requested_by, requested_at=now, status=QUEUED,
              attempts=0, max_attempts=max_attempts, progress_done=0, progress_total=0, phase="",
              singleton=kind if singleton else None)
    if singleton:
        savepoint = session.begin_nested()
        session.add(job)
        try:
            session.flush()
        except IntegrityError:
            savepoint.rollback()
            return None
        savepoint.commit()
    else:
        session.add(job)
        session.flush()
    _audit(session, ctx, "job.requested", job, {
        "kind": {"old": None, "new": kind}, "parameters": {"old": None, "new": job.parameters},
        "status": {"old": None, "new": QUEUED}, "max_attempts": {"old": None, "new": max_attempts},
    })
    return job


def _claimable(now: datetime, kinds: tuple[str, ...] | None):
    query = select(Job).where(or_(Job.status == QUEUED, and_(Job.status == RUNNING, Job.lease_expires_at < now)))
    if kinds is not None:
        query = query.where(Job.kind.in_(kinds))
    return query.order_by(Job.id).limit(1)


def claim(session: Session, ctx: AuditContext, owner: str, *, now: datetime, lease: timedelta,
          kinds: tuple[str, ...] | None = None) -> Job | None:
    """Take the oldest claimable job for `owner` (status running, a lease until now + `lease`, one more attempt)
    and record `job.started`; None when there is none. A job whose lease expired is first recorded as
    `job.retried` (its error kept), or `job.failed` when it has had all its attempts."""
    postgres = session.get_bind().dialect.name == "postgresql"
    with nullcontext() if postgres else _SQLITE_CLAIMER:
        while True:
            query = _claimable(now, kinds)
            if postgres:
                query = query.with_for_update(skip_locked=True)
            job = session.scalars(query).first()
            if job is None:
                return None
            if job.status == RUNNING:  # its worker died: the attempt it was making failed
                if not _give_up_or_retry(session, ctx, job, LEASE_EXPIRED, now):
                    continue
            before = {"status": job.status, "attempts": job.attempts, "lease_owner": job.lease_owner}
            job.status, job.attempts, job.lease_owner = RUNNING, job.attempts + 1, owner
            job.lease_expires_at, job.started_at = now + lease, now
            job.progress_done, job.progress_total, job.phase = 0, 0, ""
            session.flush()
            _audit(session, ctx, "job.started", job, {
                "status": {"old": before["status"], "new": RUNNING},
                "attempts": {"old": before["attempts"], "new": job.attempts},
                "lease_owner": {"old": before["lease_owner"], "new": owner},
            })
            return job


def _give_up_or_retry(session: Session, ctx: AuditContext, job: Job, error: str, now: datetime,
                      known: dict[str, Any] | None = None, *, permanent: bool = False) -> bool:
    """Record a failed attempt: queued again (`job.retried`, True) or, attempts spent, failed (`job.failed`).
    `known`: the error as a message people read ({"message": English msgid, "params": {...}}), kept in the
    job's `result` as {"error": known} so that the page says it in the reader's language. `permanent`: an error
    trying again cannot mend: failed at once, recorded as such (result {"permanent": true})."""
    before = {"status": job.status, "last_error": job.last_error, "lease_owner": job.lease_owner}
    job.last_error = error[:ERROR_MAX]
    job.result = {"error": known} if known else None
    if permanent:
        job.result = {**(job.result or {}), "permanent": True}
    job.lease_owner, job.lease_expires_at = None, None
    if job.attempts < job.max_attempts and not permanent:
        job.status = QUEUED
        action = "job.retried"
    else:
        job.status, job.finished_at, job.singleton = FAILED, now, None
        action = "job.failed"
    session.flush()
    changes: dict[str, dict[str, Any]] = {
        "status": {"old": before["status"], "new": job.status},
        "last_error": {"old": before["last_error"], "new": job.last_error},
        "lease_owner": {"old": before["lease_owner"], "new": None},
    }
    if permanent:
        changes["permanent"] = {"old": None, "new": True}
    _audit(session, ctx, action, job, changes)
    return job.status == QUEUED


def _held(session: Session, job_id: int, owner: str) -> Job | None:
    job = session.get(Job, job_id, with_for_update=True, populate_existing=True)
    return job if job is not None and job.status == RUNNING and job.lease_owner == owner else None


def heartbeat(session: Session, job_id: int, owner: str, *, until: datetime, phase: str | None = None,
              done: int | None = None, total: int | None = None) -> bool:
    """Extend the lease (and note the progress); False if `owner` no longer holds the job (its lease expired
    and another worker took it). Not audited: progress is not a change of the record."""
    values: dict[str, Any] = {"lease_expires_at": until}
    if phase is not None:
        values["phase"] = phase[:200]
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    result = session.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING, Job.lease_owner == owner)
                             .values(**values).execution_options(synchronize_session=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def succeed(session: Session, ctx: AuditContext, job_id: int, owner: str, result: dict[str, Any], *,
            now: datetime) -> Job | None:
    """Record the result (`job.succeeded`); None, and nothing recorded, if `owner` lost the job meanwhile."""
    job = _held(session, job_id, owner)
    if job is None:
        return None
    job.status, job.result, job.finished_at, job.singleton = SUCCEEDED, dict(result), now, None
    job.lease_owner, job.lease_expires_at = None, None
    job.progress_done = job.progress_total = max(job.progress_total, 1)
    job.phase = ""
    session.flush()
    _audit(session, ctx, "job.succeeded", job, {
        "status": {"old": RUNNING, "new": SUCCEEDED}, "result": {"old": None, "new": job.result},
        "lease_owner": {"old": owner, "new": None},
    })
    return job


def fail(session: Session, ctx: AuditContext, job_id: int, owner: str, error: str, *, now: datetime,
         known: dict[str, Any] | None = None, permanent: bool = False) -> Job | None:
    """Record a failed attempt: retried while attempts are left (never when `permanent`), else failed; the error
    kept either way."""
    job = _held(session, job_id, owner)
    if job is None:
        return None
    _give_up_or_retry(session, ctx, job, error, now, known, permanent=permanent)
    return job


def retry(session: Session, ctx: AuditContext, failed: Job, parameters: dict[str, Any], *, requested_by: int,
          now: datetime, max_attempts: int, singleton: bool) -> Job | None:
    """A new job of a failed one's kind with `parameters` (its own, as the retrying person asks), recorded as
    `job.requested` (its parameters name the failed job: `retry_of`) and, on the failed job, `job.retry_requested`.
    None, and nothing recorded, when a periodic kind's job is already open (it does the same work)."""
    job = request(session, ctx, failed.kind, {**parameters, "retry_of": failed.id}, requested_by=requested_by,
                  now=now, max_attempts=max_attempts, singleton=singleton)
    if job is not None:
        _audit(session, ctx, "job.retry_requested", failed, {"retried_as": {"old": None, "new": job.id}})
    return job


def record_download(session: Session, ctx: AuditContext, job: Job, action: str) -> None:
    """A job's result was handed to someone (an inspection package downloaded): who, what, when."""
    _audit(session, ctx, action, job, {"result": {"old": None, "new": job.result}})
