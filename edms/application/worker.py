"""The worker's loop: queue the periodic jobs that are due, claim and run jobs, sleep when there is none.

`edms worker` runs it in its own process (several of them side by side with PostgreSQL); with SQLite, or
`job_runner = "thread"`, the server runs it in one background thread (`start_thread`). Stopping (SIGTERM)
lets the job being run finish and record its outcome; a worker killed outright leaves its job's lease to
expire, and the job is claimed again.
"""
from __future__ import annotations

import logging
import threading

from edms.application.jobs import enqueue_due, run_next, worker_name
from edms.application.services import Services
from edms.application.unit_of_work import command
from edms.audit import AuditContext

log = logging.getLogger(__name__)


def runner(services: Services) -> str:
    """Who runs jobs for this configuration: "thread", "worker" or "manual"."""
    configured = services.settings.job_runner
    if configured != "auto":
        return configured
    return "thread" if services.engine.dialect.name == "sqlite" else "worker"


def run(services: Services, stop: threading.Event, *, once: bool = False, scheduled: bool = True,
        owner: str | None = None) -> int:
    """Run jobs until `stop` is set (or, `once`, until none is left); the number of jobs run."""
    owner = owner or worker_name()
    ctx = AuditContext.system(f"edms worker {owner}")
    ran = 0
    while not stop.is_set():
        try:
            if scheduled:
                with command(services.sessions) as session:
                    enqueue_due(services, session, ctx)
            job_id = run_next(services, owner, heartbeat=True)
        except Exception:  # noqa: BLE001 (the database away for a moment: the loop goes on)
            log.exception("worker %s: a round failed", owner)
            job_id = None
        if job_id is not None:
            ran += 1
            continue
        if once:
            break
        stop.wait(services.settings.job_poll_seconds)
    return ran


def start_thread(services: Services) -> tuple[threading.Thread, threading.Event]:
    """The server's background worker (SQLite: one claimer in the process)."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(services, stop), name="edms-jobs", daemon=True)
    thread.start()
    return thread, stop
