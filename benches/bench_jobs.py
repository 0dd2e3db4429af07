"""How many jobs per second the queue moves (request, claim, succeed: each audited, each its own
transaction, as the worker does), against a bare UPDATE of one row per transaction on the same database.

    python benches/bench_jobs.py --jobs 300

SQLite (BENCH_ENGINE=sqlite, the default) in a temporary directory; the figure is the queue's own
overhead per job, not the cost of any kind of work. Prints one JSON line per measure.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from edms.application.unit_of_work import command
from edms.audit import AuditContext
from edms.db import make_engine, make_session_factory
from edms.jobs import operations
from edms.migrate import upgrade
from edms.timeutil import utc_now

CTX = AuditContext.system("bench")
LEASE = timedelta(seconds=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=300)
    count = parser.parse_args().jobs
    engine_name = os.environ.get("BENCH_ENGINE", "sqlite")
    if engine_name != "sqlite":
        print(json.dumps({"bench": "jobs", "engine": engine_name, "skipped": "SQLite only for now"}))
        return
    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{Path(scratch) / 'bench.sqlite3'}")
        upgrade(engine)
        sessions = make_session_factory(engine)
        started = time.perf_counter()
        for n in range(count):
            with command(sessions) as session:
                operations.request(session, CTX, "outbox.deliver", {"n": n}, requested_by=None, now=utc_now(),
                                   max_attempts=3)
            with command(sessions) as session:
                job = operations.claim(session, CTX, "bench", now=utc_now(), lease=LEASE)
                job_id = job.id
            with command(sessions) as session:
                operations.succeed(session, CTX, job_id, "bench", {"n": n}, now=utc_now())
        queued = count / (time.perf_counter() - started)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, n INTEGER)"))
            connection.execute(text("INSERT INTO bench_raw VALUES (1, 0)"))
        started = time.perf_counter()
        for n in range(count * 3):  # three transactions per job, as above
            with engine.begin() as connection:
                connection.execute(text("UPDATE bench_raw SET n = :n WHERE id = 1"), {"n": n})
        raw = count / (time.perf_counter() - started)
        engine.dispose()
    print(json.dumps({"bench": "jobs_per_second", "engine": engine_name, "measured": round(queued, 1),
                      "raw": round(raw, 1), "ratio": round(queued / raw, 3),
                      "unit": "jobs/s (request+claim+succeed, audited) vs 3 bare UPDATE transactions"}))


if __name__ == "__main__":
    main()
