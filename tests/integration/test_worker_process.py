"""`edms worker` as a process (issue 16): killed with SIGKILL while it builds an inspection package, it leaves
the job running under a lease nobody renews; once the lease has run out another worker claims the job again
and finishes it, and exactly one complete package is recorded."""
from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time

from edms.jobs.models import Job
from edms.jobs.operations import LEASE_EXPIRED
from edms.timeutil import utc_now
from edms.verifier.package import verify_package
from tests.conftest import csrf_token
from tests.support.inspection import events, inspector, inspector_client  # noqa: F401

LEASE_SECONDS = 3


def _job(app, job_id: int) -> Job:
    with app.extensions["edms"].sessions() as session:
        return session.get(Job, job_id)


def _worker(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, "EDMS_ENV": "testing", "EDMS_DATABASE_URL": settings.database_url,
           "EDMS_DATA_DIR": str(settings.data_dir), "EDMS_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
           "EDMS_JOB_POLL_SECONDS": "0.2"}
    return subprocess.Popen([sys.executable, "-m", "edms.cli", "worker", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, what: str, limit: float = 300.0, process: subprocess.Popen | None = None) -> None:
    """Poll until `condition()` holds (not a timed assertion: the limit only stops a hung test)."""
    deadline = time.monotonic() + limit
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker ended ({process.returncode}): {process.stdout.read()}{process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_package_leaves_the_job_to_another_worker_and_one_package_is_recorded(
        app, settings, signed_case, inspector_client):
    timeline = inspector_client.get(f"/inspection/cases/{signed_case.case_id}").get_data(as_text=True)
    job_page = inspector_client.post(f"/inspection/cases/{signed_case.case_id}/export",
                                     data={"csrf_token": csrf_token(timeline)}).headers["Location"]
    job_id = int(job_page.rstrip("/").rsplit("/", 1)[1])

    first = _worker(settings, "--no-schedule")
    try:
        _wait_for(lambda: _job(app, job_id).status == "running", "the first worker to claim the job", process=first)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(timeout=60)
        first.stdout.close()
        first.stderr.close()
    killed = _job(app, job_id)
    assert killed.status == "running" and killed.result is None, "the package was finished before the kill"
    assert first.returncode == -signal.SIGKILL

    _wait_for(lambda: utc_now() > _job(app, job_id).lease_expires_at, "the killed worker's lease to run out")
    second = _worker(settings, "--once")
    out, err = second.communicate(timeout=600)
    assert second.returncode == 0, out + err

    done = _job(app, job_id)
    assert (done.status, done.attempts, done.last_error) == ("succeeded", 2, LEASE_EXPIRED)
    assert len(events(app, "job.succeeded")) == 1 and len(events(app, "job.retried")) == 1
    package = inspector_client.get(f"/jobs/{job_id}/download")
    assert hashlib.sha256(package.data).hexdigest() == done.result["sha256"]
    report = verify_package(io.BytesIO(package.data))
    assert report.ok, [item.line() for item in report.failures]
