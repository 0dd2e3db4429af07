"""The job queue (issue 16): a job is claimed by one worker at a time, a job whose worker died is claimed
again and retried up to its attempts with each error kept, periodic kinds are queued one at a time, and every
move of a job is in the audit trail. On SQLite and on PostgreSQL."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from edms.application import jobs as job_use_cases
from edms.application.job_kinds import DELIVER_OUTBOX, ESCALATE, PERIODIC
from edms.application.services import build_services
from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.audit.models import AuditEvent
from edms.jobs import operations
from edms.jobs.models import FAILED, QUEUED, RUNNING, SUCCEEDED, Job
from edms.timeutil import utc_now

WORKER = AuditContext.system("edms worker (test)")
ADMIN = AuditContext(user_id=None, user_name="Daisuke Kato", client_addr="127.0.0.1")
LEASE = timedelta(seconds=60)


def queue(sessions, count: int = 1, *, kind: str = DELIVER_OUTBOX, max_attempts: int = 3) -> list[int]:
    with command(sessions) as session:
        return [operations.request(session, ADMIN, kind, {"n": n}, requested_by=None, now=utc_now(),
                                   max_attempts=max_attempts).id for n in range(count)]


def claim(sessions, owner: str, *, now=None) -> int | None:
    with command(sessions) as session:
        job = operations.claim(session, WORKER, owner, now=now or utc_now(), lease=LEASE)
        return job.id if job is not None else None


def job(sessions, job_id: int) -> Job:
    with sessions() as session:
        return session.get(Job, job_id)


def actions(sessions, job_id: int) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "job",
                                                                    AuditEvent.object_id == str(job_id))
                                    .order_by(AuditEvent.seq)))


@pytest.mark.req("11.10(e)")
def test_a_queued_job_is_claimed_once_with_a_lease_and_each_move_is_audited(sessions):
    (job_id,) = queue(sessions)
    assert claim(sessions, "worker-a") == job_id
    assert claim(sessions, "worker-b") is None  # running under a live lease: nobody else takes it
    claimed = job(sessions, job_id)
    assert (claimed.status, claimed.attempts, claimed.lease_owner) == (RUNNING, 1, "worker-a")
    assert claimed.lease_expires_at > utc_now() and claimed.lease_expires_at.tzinfo is not None
    with command(sessions) as session:
        assert operations.succeed(session, WORKER, job_id, "worker-b", {"sent": 1}, now=utc_now()) is None
        assert operations.succeed(session, WORKER, job_id, "worker-a", {"sent": 1}, now=utc_now()) is not None
    done = job(sessions, job_id)
    assert (done.status, done.result, done.lease_owner) == (SUCCEEDED, {"sent": 1}, None)
    assert done.finished_at is not None
    assert actions(sessions, job_id) == ["job.requested", "job.started", "job.succeeded"]


def test_two_claimers_on_their_own_connections_never_take_the_same_job(sessions):
    queued = queue(sessions, 12)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while (job_id := claim(sessions, name)) is not None:
                taken[name].append(job_id)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(taken["a"] + taken["b"]) == queued  # every job once, none twice


@pytest.mark.req("11.10(e)")
def test_a_job_whose_worker_died_is_claimed_again_and_the_dead_attempt_is_recorded(sessions):
    (job_id,) = queue(sessions)
    assert claim(sessions, "killed-worker") == job_id
    # The killed worker sent no heartbeat: once its lease has run out, another worker takes the job.
    later = utc_now() + LEASE + timedelta(seconds=1)
    assert claim(sessions, "second-worker", now=later) == job_id
    retried = job(sessions, job_id)
    assert (retried.status, retried.attempts, retried.lease_owner) == (RUNNING, 2, "second-worker")
    assert retried.last_error == operations.LEASE_EXPIRED
    assert actions(sessions, job_id) == ["job.requested", "job.started", "job.retried", "job.started"]
    with command(sessions) as session:  # the killed worker, had it come back, records nothing
        assert operations.succeed(session, WORKER, job_id, "killed-worker", {}, now=later) is None


def test_after_its_last_attempt_a_job_fails_with_its_error_kept(sessions):
    (job_id,) = queue(sessions, max_attempts=2)
    for attempt in (1, 2):
        assert claim(sessions, "worker") == job_id
        with command(sessions) as session:
            operations.fail(session, WORKER, job_id, "worker", f"relay refused (attempt {attempt})", now=utc_now())
        assert job(sessions, job_id).last_error == f"relay refused (attempt {attempt})"
    failed = job(sessions, job_id)
    assert (failed.status, failed.attempts, failed.finished_at is not None) == (FAILED, 2, True)
    assert claim(sessions, "worker") is None
    assert actions(sessions, job_id) == ["job.requested", "job.started", "job.retried", "job.started", "job.failed"]


def test_a_dead_worker_on_the_last_attempt_fails_the_job_with_the_lease_error(sessions):
    (job_id,) = queue(sessions, max_attempts=1)
    assert claim(sessions, "killed-worker") == job_id
    assert claim(sessions, "second-worker", now=utc_now() + LEASE + timedelta(seconds=1)) is None
    failed = job(sessions, job_id)
    assert (failed.status, failed.last_error) == (FAILED, operations.LEASE_EXPIRED)
    assert actions(sessions, job_id)[-1] == "job.failed"


def test_the_heartbeat_extends_the_lease_only_for_the_worker_holding_it(sessions):
    (job_id,) = queue(sessions)
    claim(sessions, "worker-a")
    until = utc_now() + timedelta(hours=1)
    with command(sessions) as session:
        assert not operations.heartbeat(session, job_id, "worker-b", until=until)
        assert operations.heartbeat(session, job_id, "worker-a", until=until, phase="building", done=1, total=3)
    beating = job(sessions, job_id)
    assert (beating.lease_expires_at, beating.phase, beating.progress_done, beating.progress_total) == (
        until, "building", 1, 3)
    assert claim(sessions, "worker-b", now=utc_now() + LEASE + timedelta(seconds=1)) is None


def test_periodic_jobs_are_queued_when_due_and_never_two_of_a_kind_at_once(settings, organisation_pki):
    services = build_services(settings)
    try:
        with command(services.sessions) as session:
            first = sorted(job.kind for job in job_use_cases.enqueue_due(services, session, WORKER))
        assert first == sorted(PERIODIC)
        with command(services.sessions) as session:
            assert job_use_cases.enqueue_due(services, session, WORKER) == []  # not due yet, and still queued
            assert job_use_cases.request_now(services, session, ADMIN, _Admin(), ESCALATE) is None  # one is waiting
        while job_use_cases.run_next(services, "worker") is not None:
            pass
        with services.sessions() as session:
            finished = {job.kind: job.status for job in session.scalars(select(Job))}
        assert finished == dict.fromkeys(PERIODIC, SUCCEEDED)
        with command(services.sessions) as session:  # finished: an administrator may ask again at once
            again = job_use_cases.request_now(services, session, ADMIN, _Admin(), ESCALATE)
            assert again is not None and again.status == QUEUED and again.singleton == ESCALATE
    finally:
        services.engine.dispose()


class _Admin:
    id = None

    @staticmethod
    def has_role(*roles: str) -> bool:
        return "admin" in roles
