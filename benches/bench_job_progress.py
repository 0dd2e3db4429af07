"""What following an export costs: the inspection package of a case built as a job (`run_next`, progress per
file written to the job's row at most every half second) against the same package exported plainly
(`export_package`, nobody following), and how many progress steps were reported against how many were written.

    python benches/bench_job_progress.py [--documents 5] [--versions 2]

Builds a migrated SQLite database, the organisation PKI and one signed case (tests/support/signed_case.py) in
a temporary directory, exports it once to warm up, once plainly and once as a job, and prints one JSON line.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support builds the signed case

from edms.app import create_app  # noqa: E402
from edms.application import job_kinds  # noqa: E402
from edms.application.jobs import run_next  # noqa: E402
from edms.application.unit_of_work import command  # noqa: E402
from edms.audit import AuditContext  # noqa: E402
from edms.config import load_settings  # noqa: E402
from edms.db import make_engine  # noqa: E402
from edms.inspection.package import CASE, Scope, environment_from_settings, export_package  # noqa: E402
from edms.jobs import operations  # noqa: E402
from edms.jobs.models import Job  # noqa: E402
from edms.migrate import upgrade  # noqa: E402
from edms.pki import PkiStore  # noqa: E402
from edms.timeutil import utc_now  # noqa: E402
from tests.support.signed_case import DOCUMENT_TYPES, build_signed_case  # noqa: E402


def run(directory: Path, documents: int, versions: int) -> dict[str, object]:
    settings = load_settings("testing", overrides={"database_url": f"sqlite:///{directory / 'edms.sqlite3'}",
                                                   "data_dir": str(directory / "data"), "job_runner": "manual"})
    upgrade(make_engine(settings.database_url))
    PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    services = create_app(settings).extensions["edms"]
    case = build_signed_case(services, types=tuple(islice(cycle(DOCUMENT_TYPES), documents)), versions=versions)
    scope = Scope(CASE, case.case_id)
    env = environment_from_settings(settings, services.document_types, services.blobs)
    ctx = AuditContext.system("bench_job_progress")
    export_package(services.engine, services.sessions, ctx, env, scope, io.BytesIO())  # warm-up (renderers, caches)
    steps: list[tuple[int, int, str]] = []
    started = time.perf_counter()
    export_package(services.engine, services.sessions, ctx, env, scope, io.BytesIO(),
                   progress=lambda done, total, phase: steps.append((done, total, phase)))
    plain = time.perf_counter() - started

    writes = 0
    heartbeat = operations.heartbeat

    def counted(*args, **kwargs):
        nonlocal writes
        writes += 1
        return heartbeat(*args, **kwargs)

    operations.heartbeat = counted  # type: ignore[assignment]
    with command(services.sessions) as session:
        job = operations.request(session, AuditContext.system("bench_job_progress"), job_kinds.EXPORT,
                                 {"scope": CASE, "id": case.case_id, "case_id": case.case_id}, requested_by=None,
                                 now=utc_now(), max_attempts=1)
        job_id = job.id
    started = time.perf_counter()
    assert run_next(services, "bench") == job_id
    as_job = time.perf_counter() - started
    with services.sessions() as session:
        done = session.get(Job, job_id)
        assert done is not None and done.status == "succeeded", done and done.last_error
        documents = done.result["documents"] if done.result else 0
    return {
        "bench": "jobs.export_progress", "engine": "sqlite", "measured": round(as_job, 2), "raw": round(plain, 2),
        "ratio": round(as_job / plain, 2), "unit": "s", "documents": documents, "progress_steps": len(steps),
        "progress_writes": writes, "throttle_seconds": job_kinds.PROGRESS_EVERY_SECONDS, "cpus": os.cpu_count(),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5)
    parser.add_argument("--versions", type=int, default=2)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        print(json.dumps(run(Path(directory), arguments.documents, arguments.versions)))


if __name__ == "__main__":  # the rendition workers start by importing this module: build only when run
    main()
