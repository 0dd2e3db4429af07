"""`edms worker`: run the queued jobs (inspection packages, outbox delivery, escalations, archive time-stamps)."""
from __future__ import annotations

import signal
import threading

import click

from edms.cli.group import _services, _settings, main


@main.command()
@click.option("--once", is_flag=True, help="Run the jobs waiting now, then exit (no schedule).")
@click.option("--no-schedule", is_flag=True, help="Do not queue the periodic jobs (another worker or cron does).")
def worker(once: bool, no_schedule: bool) -> None:
    """Claim and run jobs until stopped. SIGTERM or Ctrl-C finishes the job being run, then exits.

    Several workers may run side by side on PostgreSQL (each job is claimed by one); a killed worker's job
    is claimed again once its lease expires.
    """
    from edms.application import worker as jobs_worker

    services = _services(_settings())
    stop = threading.Event()

    def _stop(signum, _frame) -> None:
        click.echo(f"edms worker: signal {signum}, stopping after the current job", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo("edms worker: running jobs" + (" (once)" if once else ""))
    ran = jobs_worker.run(services, stop, once=once, scheduled=not (once or no_schedule))
    click.echo(f"edms worker: {ran} job(s) run")
