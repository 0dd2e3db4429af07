"""How long the inspection package of a large case takes to export, and to verify offline.

    python benches/bench_export.py [--documents 20] [--versions 3] [--keep DIR] [--reuse DIR] [--exports N] [--no-jobs]
                                   [--engine sqlite|postgresql]

Builds a migrated SQLite database and the organisation PKI in a temporary directory, then one case of N
documents (OOS notifications, deviation reports and QA release decisions in turn) with V versions each,
every version submitted and signed at each step by real people with real keys and time-stamps (version 1
refused at review with a reason, the last approved), exactly as tests/support/signed_case.py does. Then
times `export_package` of the whole case (as `edms export --case` runs it) and `edms.verifier.package.verify_package`
of the result, and prints one JSON line per export: the first of a case makes (and stores) the DOCX of its frozen
versions, the next ones reuse them (`--exports`, 2 by default). `--reuse DIR` exports the case a run with `--keep DIR`
built (migrated to this code first) instead of building one: the build is not what is measured.

Before the exports, the `rendition.freeze` jobs are run as the worker would, untimed (their time is printed as
`jobs_seconds`): the use cases queue one per document at each signature, refusal, submission or revision
(edms.application.frozen_renditions); the case here is built with the domain operations, as the tests' signed
case is, so the bench queues one per document itself. `--no-jobs` skips them: the first export then renders
and stores every DOCX itself, as it did before the jobs existed.

`--engine postgresql` builds the case in a throw-away PostgreSQL server (tests.support.postgres: initdb in a
temporary directory, Unix socket only; `--keep`/`--reuse` are for SQLite). Each line also gives the CPU seconds
of this process for the export and the verification (`export_cpu_seconds`, `verify_cpu_seconds`, `cpu_ratio`):
on a loaded machine they move less than wall-clock time (rendition workers' CPU, when a PDF is made, is not in it).
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

from sqlalchemy import select  # noqa: E402

from edms.app import create_app  # noqa: E402
from edms.application import frozen_renditions  # noqa: E402
from edms.application.jobs import run_next  # noqa: E402
from edms.application.unit_of_work import command, use_case  # noqa: E402
from edms.audit import AuditContext  # noqa: E402
from edms.config import load_settings  # noqa: E402
from edms.db import make_engine  # noqa: E402
from edms.documents.models import Document  # noqa: E402
from edms.inspection.package import CASE, Scope, environment_from_settings, export_package  # noqa: E402
from edms.migrate import upgrade  # noqa: E402
from edms.pki import PkiStore  # noqa: E402
from edms.signatures.pdf_operations import pdf_locale  # noqa: E402
from edms.verifier.package import verify_package  # noqa: E402
from tests.support.signed_case import DOCUMENT_TYPES, build_signed_case  # noqa: E402


def run(directory: Path, documents: int, versions: int, *, reuse: bool = False, exports: int = 2,
        jobs: bool = True, database_url: str | None = None) -> list[dict[str, object]]:
    settings = load_settings("testing", overrides={
        "database_url": database_url or f"sqlite:///{directory / 'edms.sqlite3'}", "data_dir": str(directory / "data")})
    engine = "postgresql" if database_url else "sqlite"
    upgrade(make_engine(settings.database_url))
    if not reuse:
        PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    services = create_app(settings).extensions["edms"]
    started = time.perf_counter()
    if reuse:
        with services.sessions() as session:
            case_id = session.scalars(select(Document.case_id).where(Document.case_id.is_not(None))).first()
    else:
        case_id = build_signed_case(services, types=tuple(islice(cycle(DOCUMENT_TYPES), documents)),
                                    versions=versions).case_id
    built = time.perf_counter() - started
    jobs_seconds = _run_freeze_jobs(services, case_id) if jobs else None
    # As the case page exports it for a reader of the site's language: in the zone of the case's site
    # (edms.application.inspection.export), so each signed version's stored PDF is its rendition.
    with services.sessions() as session:
        first = session.scalars(select(Document).where(Document.case_id == case_id)).first()
        language, zone = pdf_locale(session, first) if first is not None else ("en", "UTC")
    return [dict(_export(services, settings, directory, case_id, language, zone), engine=engine, export=number, jobs=jobs,
                 jobs_seconds=jobs_seconds if number == 1 else None,
                 build_case_seconds=None if reuse else round(built, 2)) for number in range(1, exports + 1)]


def _run_freeze_jobs(services, case_id: int) -> float:
    """Queue the rendition.freeze job of each document of the case, as its last use case would have, and run
    every waiting job as the worker does; returns the seconds the worker took (not part of any export)."""
    with command(services.sessions) as session, use_case(session):
        for document in session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)):
            frozen_renditions.queue(services, session, AuditContext.system("bench_export"), document)
    started = time.perf_counter()
    while run_next(services, "bench_export worker") is not None:
        pass
    return round(time.perf_counter() - started, 2)


def _export(services, settings, directory: Path, case_id: int, language: str, zone: str) -> dict[str, object]:
    package = directory / "package.zip"
    started, cpu_started = time.perf_counter(), time.process_time()
    with package.open("wb") as out:  # streamed into the file, as `edms export` writes it
        exported = export_package(services.engine, services.sessions, AuditContext.system("bench_export"),
                                  environment_from_settings(settings, services.document_types, services.blobs),
                                  Scope(CASE, case_id), out, language=language, display_tz=zone)
    export_seconds, export_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    data = package.read_bytes()
    started, cpu_started = time.perf_counter(), time.process_time()
    report = verify_package(io.BytesIO(data))
    verify_seconds, verify_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "bench": "export.case_package", "engine": "sqlite", "measured": round(export_seconds, 2),
        "raw": round(verify_seconds, 2), "ratio": round(export_seconds / verify_seconds, 1), "unit": "s",
        "language": language, "documents": exported.documents, "versions": exported.versions, "signatures": exported.signatures,
        "files": exported.files, "package_bytes": exported.size, "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1), "export_seconds": round(export_seconds, 2),
        "verify_seconds": round(verify_seconds, 2), "export_cpu_seconds": round(export_cpu, 2),
        "verify_cpu_seconds": round(verify_cpu, 2), "cpu_ratio": round(export_cpu / verify_cpu, 1), "verified": report.ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--keep", help="build in this directory and keep the database and the package")
    parser.add_argument("--reuse", help="export the case a run with --keep built in this directory")
    parser.add_argument("--exports", type=int, default=2, help="exports of the case, one after the other")
    parser.add_argument("--no-jobs", action="store_true", help="do not run the rendition.freeze jobs first")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"))
    arguments = parser.parse_args()
    if arguments.engine == "postgresql":
        if arguments.keep or arguments.reuse:
            parser.error("--keep and --reuse are for SQLite")
        from tests.support.postgres import PostgresServer
        postgres = PostgresServer().start()
        try:
            with tempfile.TemporaryDirectory() as directory:
                lines = run(Path(directory), arguments.documents, arguments.versions, exports=arguments.exports,
                            jobs=not arguments.no_jobs, database_url=postgres.url())
        finally:
            postgres.stop()
    elif arguments.keep or arguments.reuse:
        directory = Path(arguments.keep or arguments.reuse)
        directory.mkdir(parents=True, exist_ok=True)
        lines = run(directory, arguments.documents, arguments.versions, reuse=bool(arguments.reuse),
                    exports=arguments.exports, jobs=not arguments.no_jobs)
    else:
        with tempfile.TemporaryDirectory() as directory:
            lines = run(Path(directory), arguments.documents, arguments.versions, exports=arguments.exports,
                        jobs=not arguments.no_jobs)
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":  # the rendition workers start by importing this module: build only when run
    main()
