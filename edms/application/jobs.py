"""Jobs as people and the worker use them: request one (an inspection package, or a periodic kind run now),
read it, download its result, and run the next one (`run_next`, the worker's and the tests' one step).

A page or the API only queues a job and returns at once; the work is done by `run_next` in `edms worker` or
in the server's background thread (`edms.application.worker`), never inside a request.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from edms.application.job_kinds import EXPORT, KINDS, PERIODIC, JobCall, Progress
from edms.application.services import Services
from edms.application.unit_of_work import command, use_case
from edms.audit import AuditContext
from edms.errors import N_, UserError
from edms.inspection.package import CASE, NothingToExport, Scope, scope_documents
from edms.jobs import operations
from edms.jobs.errors import JobError, PermanentJobError
from edms.jobs.models import FAILED, SUCCEEDED, Job
from edms.jobs.queries import last_finished_of_kind, last_requested, latest_of_kind, may_read
from edms.timeutil import utc_now
from edms.users.roles import ADMIN, INSPECTOR, QA, REGULATORY

log = logging.getLogger(__name__)
# Who may take an inspection package away: the roles that may export one (edms.web.inspection_views.READERS).
EXPORTERS = (INSPECTOR, QA, REGULATORY)
DOWNLOADED = "inspection.package_downloaded"
# Parameters that carry English text from elsewhere (an exception's, a time-stamp authority's): never shown to a
# reader, whose language would then be mixed with English; the raw error keeps them for administrators.
FREE_TEXT_PARAMS = frozenset({"reason", "error", "detail"})
READER_WORDING = {
    "No time-stamp could be obtained for the checkpoint: %(reason)s": N_(
        "No time-stamp could be obtained for the audit trail checkpoint the package needs (the time-stamp "
        "authority did not answer as expected). An administrator can read the reason and retry the job."),
    "The time-stamp for the checkpoint does not verify: %(reason)s": N_(
        "The time-stamp for the audit trail checkpoint the package needs does not verify. An administrator can "
        "read the reason and retry the job."),
    "The checkpoint signature does not verify: %(reason)s": N_(
        "The signature of the audit trail checkpoint the package needs does not verify. An administrator can "
        "read the reason and retry the job."),
}
_LEGACY_NOTHING_MESSAGE = "There is no %(what)s to export."
_LEGACY_NOTHING = re.compile(r"(case|document) ([0-9]{1,18})")


def worker_name() -> str:
    """This process and thread, as a job's lease owner: host:pid:thread:random."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


def request_export(services: Services, session: Session, ctx: AuditContext, user, scope: Scope, *,
                   language: str = "en", display_tz: str = "UTC") -> Job:
    """Queue an inspection package of `scope`; the package is built by the worker. `NothingToExport` when the
    document or case does not exist (nothing queued)."""
    with use_case(session):
        documents = scope_documents(session, scope)
        if not documents:
            raise NothingToExport.of(scope)
        case_id = scope.id if scope.kind == CASE else documents[0].case_id
        job = operations.request(session, ctx, EXPORT, {
            "scope": scope.kind, "id": scope.id, "case_id": case_id, "language": language, "display_tz": display_tz,
            "client_addr": ctx.client_addr, "user_name": ctx.user_name,
        }, requested_by=user.id, now=utc_now(), max_attempts=services.settings.job_max_attempts)
        assert job is not None
        return job


def request_now(services: Services, session: Session, ctx: AuditContext, user, kind: str) -> Job | None:
    """An administrator asks for a periodic kind (outbox delivery, escalations, archive time-stamps) now; None
    when one of that kind is already waiting or running (it will do the same work)."""
    if kind not in PERIODIC:
        raise JobError(N_("There is no job of kind %(kind)s to start."), kind=kind)
    with use_case(session):
        return operations.request(session, ctx, kind, {"client_addr": ctx.client_addr, "user_name": ctx.user_name},
                                  requested_by=user.id, now=utc_now(),
                                  max_attempts=services.settings.job_max_attempts, singleton=True)


def retry(services: Services, session: Session, ctx: AuditContext, user, job: Job) -> Job | None:
    """An administrator runs a failed job again: a new job of its kind with its parameters (the work then
    recorded as the administrator's act), audited on both jobs. JobError unless the job failed and the user is
    an administrator; None when a periodic kind's job is already waiting or running (it does the same work)."""
    if not user.has_role(ADMIN):
        raise JobError(N_("Only an administrator may retry a job."))
    with use_case(session):
        if job.status != FAILED:
            raise JobError(N_("Only a failed job can be retried; job %(id)s has not failed."), id=job.id)
        parameters = {key: value for key, value in job.parameters.items() if key != "retry_of"}
        parameters.update(client_addr=ctx.client_addr, user_name=ctx.user_name)
        return operations.retry(session, ctx, job, parameters, requested_by=user.id, now=utc_now(),
                                max_attempts=services.settings.job_max_attempts, singleton=job.kind in PERIODIC)


@dataclass(frozen=True)
class Scheduled:
    """A periodic kind as the jobs page shows it: how often it runs, its open job, its last result, its next run."""

    kind: str
    every_seconds: int  # 0: not scheduled (run only when asked)
    open_job: Job | None
    last_finished: Job | None
    next_run: datetime | None  # None: not scheduled
    due: bool  # the next run is now: at the worker's next round


def scheduled(services: Services, session: Session) -> list[Scheduled]:
    now, entries = utc_now(), []
    for kind, every in schedule(services).items():
        latest = latest_of_kind(session, kind)
        next_run = None
        if every > 0:
            next_run = latest.requested_at + timedelta(seconds=every) if latest is not None else now
        entries.append(Scheduled(kind, every, latest if latest is not None and not latest.finished else None,
                                 last_finished_of_kind(session, kind), next_run,
                                 next_run is not None and next_run <= now))
    return entries


def failed_permanently(job: Job) -> bool:
    """The job failed on an error trying again cannot mend (PermanentJobError): it was not tried again."""
    return isinstance(job.result, dict) and job.result.get("permanent") is True


def known_error(job: Job) -> tuple[str, dict[str, Any]] | None:
    """A failed attempt's error as people read it (an English msgid and its parameters, translated where shown);
    None when it is not one the application knows (administrators then read the raw text). Never a parameter
    that is free English text (a time-stamp authority's answer): such an error is read in the words of
    `READER_WORDING`, its raw text left to administrators."""
    error = (job.result or {}).get("error") if isinstance(job.result, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        params = error.get("params")
        return reader_wording(error["message"], dict(params) if isinstance(params, dict) else {})
    if job.last_error == operations.LEASE_EXPIRED:
        return N_("The worker running this job stopped before it finished."), {}
    return None


def reader_wording(message: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """`message` as a reader is shown it: reworded without its free-text parameters; None (the general sentence)
    for one that still has such a parameter."""
    if message in READER_WORDING:
        return READER_WORDING[message], {}
    legacy = _LEGACY_NOTHING.fullmatch(str(params.get("what", ""))) if message == _LEGACY_NOTHING_MESSAGE else None
    if legacy is not None:  # recorded before "case" and "document" were worded apart
        return NothingToExport.of(Scope(legacy.group(1), int(legacy.group(2)))).message, {"id": legacy.group(2)}
    if FREE_TEXT_PARAMS & params.keys():
        return None
    return message, params


def enqueue_due(services: Services, session: Session, ctx: AuditContext) -> list[Job]:
    """Queue each periodic kind whose interval has passed since its last job (one of each kind at a time)."""
    now, queued = utc_now(), []
    with use_case(session):
        for kind, every in schedule(services).items():
            last = last_requested(session, kind)
            if every <= 0 or (last is not None and now - last < timedelta(seconds=every)):
                continue
            job = operations.request(session, ctx, kind, {}, requested_by=None, now=now,
                                     max_attempts=services.settings.job_max_attempts, singleton=True)
            if job is not None:
                queued.append(job)
    return queued


def schedule(services: Services) -> dict[str, int]:
    settings = services.settings
    return dict(zip(PERIODIC, (settings.job_outbox_every_seconds, settings.job_escalate_every_seconds,
                               settings.job_archive_timestamps_every_seconds), strict=True))


def may_download(job: Job, user) -> bool:
    """The requester, and the people who may export packages themselves, may take a finished package away."""
    return job.status == SUCCEEDED and job.kind == EXPORT and (job.requested_by == user.id or user.has_role(*EXPORTERS))


def readable(job: Job, user) -> bool:
    return may_read(job, user) or may_download(job, user)


def download(services: Services, session: Session, ctx: AuditContext, user, job: Job) -> tuple[str, bytes]:
    """The package's file name and bytes (re-hashed by the blob store on the way out), the download audited."""
    if not may_download(job, user) or not job.result:
        raise JobError(N_("This job has no result for you to download."))
    data = services.blobs.get(job.result["sha256"])
    with use_case(session):
        operations.record_download(session, ctx, job, DOWNLOADED)
    return job.result["filename"], data


@dataclass
class _Lease:
    """Extends the lease of the job being run, and notes its progress, each in a transaction of its own."""

    services: Services
    job_id: int
    owner: str

    def beat(self, phase: str | None = None, done: int | None = None, total: int | None = None) -> bool:
        until = utc_now() + timedelta(seconds=self.services.settings.job_lease_seconds)
        with command(self.services.sessions) as session:
            return operations.heartbeat(session, self.job_id, self.owner, until=until, phase=phase, done=done,
                                        total=total)


def _heartbeat(lease: _Lease, stop: threading.Event) -> None:
    interval = max(lease.services.settings.job_lease_seconds / 3, 0.5)
    while not stop.wait(interval):
        try:
            lease.beat()
        except Exception:  # noqa: BLE001 (a missed beat is retried; a lost lease shows when the result is recorded)
            log.exception("job %s: heartbeat failed", lease.job_id)


def run_next(services: Services, owner: str | None = None, *, heartbeat: bool = False,
             kinds: tuple[str, ...] | None = None) -> int | None:
    """Claim the oldest claimable job, run it, record its result or error; the job's id, None if there was none.

    Synchronous: tests call it directly. `heartbeat` (the worker) extends the lease from a thread while the
    work runs; without it, the progress the work reports extends it. A result is recorded only if this
    owner still holds the job: a worker that lost its lease (taken as dead) records nothing.
    """
    owner = owner or worker_name()
    ctx = AuditContext.system(f"edms worker {owner}")
    lease_for = timedelta(seconds=services.settings.job_lease_seconds)
    with command(services.sessions) as session:
        job = operations.claim(session, ctx, owner, now=utc_now(), lease=lease_for, kinds=kinds)
        if job is None:
            return None
        job_id, kind, parameters, requested_by = job.id, job.kind, dict(job.parameters), job.requested_by
    lease = _Lease(services, job_id, owner)
    stop = threading.Event()
    beating = threading.Thread(target=_heartbeat, args=(lease, stop), daemon=True) if heartbeat else None
    if beating is not None:
        beating.start()
    try:
        work = KINDS.get(kind)
        if work is None:
            raise PermanentJobError(N_("This version of the application has no job of kind %(kind)s."), kind=kind)
        result = work(services, JobCall(job_id, parameters, requested_by, ctx, Progress(lease.beat)))
    except Exception as exc:  # noqa: BLE001 (the job's error is kept; the worker goes on)
        log.warning("job %s (%s) failed: %s", job_id, kind, exc)
        _settle(services, ctx, job_id, owner, error=_describe(exc), known=_known(exc),
                permanent=isinstance(exc, PermanentJobError))
        return job_id
    finally:
        stop.set()
        if beating is not None:
            beating.join()
    _settle(services, ctx, job_id, owner, result=result)
    return job_id


def _settle(services: Services, ctx: AuditContext, job_id: int, owner: str, *, result: dict[str, Any] | None = None,
            error: str | None = None, known: dict[str, Any] | None = None, permanent: bool = False) -> None:
    with command(services.sessions) as session:
        if error is None:
            settled = operations.succeed(session, ctx, job_id, owner, result or {}, now=utc_now())
        else:
            settled = operations.fail(session, ctx, job_id, owner, error, now=utc_now(), known=known,
                                      permanent=permanent)
    if settled is None:
        log.warning("job %s: %s no longer holds it (lease expired); its outcome was not recorded", job_id, owner)


def _known(exc: Exception) -> dict[str, Any] | None:
    """A refusal the application words itself (a UserError: its msgid and parameters), kept for the page."""
    if not isinstance(exc, UserError):
        return None
    return {"message": exc.message, "params": {key: str(value) for key, value in exc.params.items()}}


def _describe(exc: Exception) -> str:
    """The raw error administrators read: the name and text of the error a PermanentJobError stands for."""
    if isinstance(exc, PermanentJobError) and isinstance(exc.__cause__, Exception):
        exc = exc.__cause__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
