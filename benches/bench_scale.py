"""Do pages and API lists keep their time as the archive grows? p95 latency at 10² cases against 10⁴ cases
and 10⁵ records (issue #15, scale: target within 1.5×).

    python benches/bench_scale.py [--small 100] [--large 10000] [--documents-per-case 10] [--requests 40]
                                  [--engine sqlite|postgresql] [--lists api.tasks,page.deadlines.next,...]

Builds two archives, each a migrated database (SQLite files in a temporary directory, or two databases on a
throwaway PostgreSQL server with --engine postgresql), with a QA user and an administrator who have signed in once and one case
of each regime opened through the use case (its site, audit event and stored next deadline as the pages leave them). The
rest is inserted in bulk with SQL, not timed: cases across the three jurisdictions (a third with a running
48-hour clock stored, each with the records its regime's fresh case needs stored as the use case stores them),
10 records per case with one version each (one in ten in review), 3 notifications and 3 jobs per case (one job
in ten the QA user's). An administrator reads the stuck records and every job.
Then it requests each main page and API list (first page, a filtered page, the page after the first
cursor) through the Flask test client, signed in as the QA user, round-robin over lists and both sizes so
the machine's load falls on both alike, and prints one JSON line per list: the p95
at the large size (`measured`) against the p95 at the small size (`raw`) and their ratio, the medians, and the
slowest request at each size with the part of it Python's full (generation 2) collections took. As `edms serve`
does after start-up, what the build left is frozen out of the collector's full passes (gc.freeze) before timing.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.support makes the QA user

from sqlalchemy import insert, select, text, update  # noqa: E402

from edms.app import create_app  # noqa: E402
from edms.application import cases as case_use_cases  # noqa: E402
from edms.application.unit_of_work import command  # noqa: E402
from edms.audit import AuditContext  # noqa: E402
from edms.cases import models as cm  # noqa: E402
from edms.cases.facts import CaseFacts  # noqa: E402
from edms.config import load_settings  # noqa: E402
from edms.db import make_engine, transaction  # noqa: E402
from edms.documents import models as dm  # noqa: E402
from edms.jobs.models import Job  # noqa: E402
from edms.migrate import upgrade  # noqa: E402
from edms.notifications.models import Notification  # noqa: E402
from edms.pki import PkiStore  # noqa: E402
from edms.users.models import User  # noqa: E402
from tests.support.people import PASSWORD, new_account  # noqa: E402

JURISDICTIONS = (("eu", "EU"), ("us", "US"), ("jp_proposed", "JP"))
TYPES = ("oos_notification", "deviation_report", "qa_release", "regulatory_notification", "safety_report")
LISTS = [
    ("page.cases", "/cases/", {}), ("page.cases.filtered", "/cases/", {"jurisdiction": "EU"}),
    ("page.cases.next", "/cases/", "next"), ("page.documents", "/documents/", {}),
    ("page.documents.filtered", "/documents/", {"type": "deviation_report"}),
    ("page.notifications", "/notifications/", {}),
    ("api.cases", "/api/v1/cases", {}), ("api.cases.filtered", "/api/v1/cases", {"jurisdiction": "JP"}),
    ("api.cases.next", "/api/v1/cases", "next"), ("api.notifications", "/api/v1/notifications", {}),
    # Round 2: the inbox, the deadline dashboard, the stuck records (administrators) and the jobs list.
    ("page.tasks", "/tasks/", {}), ("api.tasks", "/api/v1/tasks", {}),
    ("page.deadlines", "/cases/deadlines", {}), ("page.deadlines.next", "/cases/deadlines", "next"),
    ("page.jobs", "/jobs/", {}),
    ("admin.page.stuck", "/admin/stuck-records/", {}), ("admin.api.stuck", "/api/v1/stuck-records", {}),
    ("admin.api.stuck.next", "/api/v1/stuck-records", "next"), ("admin.page.jobs", "/jobs/", {}),
    # Round 3: the inbox's next page.
    ("page.tasks.next", "/tasks/", "next"), ("api.tasks.next", "/api/v1/tasks", "next"),
]
IN_REVIEW_EVERY = 10  # one record in ten waits for signatures (the inbox and the stuck records read them)


def _bulk(services, cases: int, per_case: int) -> None:
    """Everything but the first case, in bulk (not timed)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(services.sessions) as session:
        qa = session.scalars(select(User).where(User.username == "akiko.tanaka")).one()
        opened = list(session.scalars(select(cm.Case).order_by(cm.Case.id)))
        first = opened[0]
        # What a fresh case of each regime still needs, as the use cases stored it for the opened ones.
        needs = {case.regime_key: [{column: getattr(row, column) for column in
                                    ("type_key", "position", "role", "rank", "physician_writes", "waiting_for")}
                                   for row in session.scalars(select(cm.CaseTask).where(cm.CaseTask.case_id == case.id))]
                 for case in opened}
        case_rows = []
        for n in range(len(opened), cases):
            regime, jurisdiction = JURISDICTIONS[n % 3]
            running = n % 3 == 0
            case_rows.append({
                "reference": f"CASE-B{n:06d}", "regime_key": regime, "jurisdiction": jurisdiction,
                "product": "Autologous anti-CD19 CAR-T", "lot": f"L{n:06d}", "patient_ref": f"PT-{n:06d}",
                "site_id": first.site_id, "opened_site_name": first.opened_site_name,
                "opened_site_timezone": first.opened_site_timezone, "physician_id": None, "status": cm.OPEN,
                "created_by": qa.id, "created_at": now - timedelta(minutes=cases - n),
                "next_deadline_key": "ema_notified" if running and regime == "eu" else None,
                "next_due_at": now + timedelta(hours=n % 48) if running and regime == "eu" else None,
                "next_warn_at": now if running and regime == "eu" else None, "deadlines_at": now})
        for start in range(0, len(case_rows), 5000):
            session.execute(insert(cm.Case), case_rows[start:start + 5000])
        case_ids = list(session.scalars(select(cm.Case.id).order_by(cm.Case.id)))
        bulk_cases = session.execute(select(cm.Case.id, cm.Case.regime_key).where(
            cm.Case.id.not_in([case.id for case in opened]))).all()
        task_rows = [{"case_id": case_id, **need} for case_id, regime in bulk_cases for need in needs.get(regime, [])]
        for start in range(0, len(task_rows), 5000):
            session.execute(insert(cm.CaseTask), task_rows[start:start + 5000])
        number = 0
        for start in range(0, len(case_ids), 1000):
            documents, versions = [], []
            for case_id in case_ids[start:start + 1000]:
                for k in range(per_case):
                    number += 1
                    documents.append({"number": f"BULK-{number:07d}", "type_key": TYPES[k % len(TYPES)],
                                      "title": f"Record {number}", "owner_id": qa.id, "status": dm.DRAFT,
                                      "case_id": case_id, "created_at": now, "current_version": 1})
            session.execute(insert(dm.Document), documents)
            ids = session.execute(select(dm.Document.id, dm.Document.title).where(
                dm.Document.number.in_([d["number"] for d in documents]))).all()
            versions = [{"document_id": i, "version": 1, "status": dm.DRAFT, "title": title, "content": "{}",
                         "created_by": qa.id, "created_at": now, "updated_at": now, "status_changed_at": now}
                        for i, title in ids]
            for version in versions[::IN_REVIEW_EVERY]:
                version.update(status=dm.IN_REVIEW, frozen_at=now, content_sha256="0" * 64)
            session.execute(insert(dm.DocumentVersion), versions)
            session.execute(update(dm.Document).where(dm.Document.id.in_([v["document_id"] for v in
                                                                           versions[::IN_REVIEW_EVERY]]))
                            .values(status=dm.IN_REVIEW))
        notes = [{"recipient_id": qa.id, "recipient_email": None, "subject": f"Signature needed {n}",
                  "body": "A record waits for your signature.", "kind": "signature_needed", "case_id": None,
                  "created_at": now - timedelta(seconds=n // 2), "status": "recorded", "attempts": 0}
                 for n in range(3 * cases)]
        for start in range(0, len(notes), 5000):
            session.execute(insert(Notification), notes[start:start + 5000])
        # Three jobs per case, most of them the system's (schedules), one in ten the QA user's exports.
        job_rows = [{"kind": "export" if n % 10 == 0 else "outbox.deliver", "parameters": {},
                     "requested_by": qa.id if n % 10 == 0 else None, "requested_at": now - timedelta(seconds=n),
                     "status": "succeeded", "attempts": 1, "max_attempts": 3, "progress_done": 0,
                     "progress_total": 0, "phase": "", "finished_at": now} for n in range(3 * cases)]
        for start in range(0, len(job_rows), 5000):
            session.execute(insert(Job), job_rows[start:start + 5000])


def build(database_url: str, directory: Path, cases: int, per_case: int):
    settings = load_settings("testing", overrides={"database_url": database_url, "data_dir": str(directory / "data")})
    upgrade(make_engine(settings.database_url))
    PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    app = create_app(settings)
    app.config["TESTING"] = True
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        new_account(session, settings, "akiko.tanaka", {"qa"}, printed_name="Akiko Tanaka")
        new_account(session, settings, "daisuke.kato", {"admin"}, printed_name="Daisuke Kato")
    for number, (regime, _jurisdiction) in enumerate(JURISDICTIONS):  # one case of each regime through the use case
        with command(services.sessions) as session:
            qa = session.scalars(select(User).where(User.username == "akiko.tanaka")).one()
            case_use_cases.open_case(services, session, AuditContext.system("bench_scale"), qa, CaseFacts(
                regime_key=regime, product="Autologous anti-CD19 CAR-T", lot=f"E2026-010{number}",
                patient_ref=f"PT-EU330{number}", treating_site="Charité Berlin", site_timezone="Europe/Berlin",
                physician_id=None, oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC)))
    _bulk(services, cases, per_case)
    with services.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return app


def _client(app, username: str = "akiko.tanaka"):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    bearer = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD}).json["token"]
    return client, {"Authorization": f"Bearer {bearer}"}


def _who(name: str) -> str:
    return "admin" if name.startswith("admin.") else "qa"


class Collections:
    """The time Python's garbage collector spends, by generation, while it is listened to (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started


def _timed(client, headers, name: str, path: str, params, collections: Collections) -> tuple[float, float]:
    """The request's wall time and the part of it a full (generation 2) collection took."""
    full = collections.seconds[2]
    started = time.perf_counter()
    response = client.get(path, query_string=params, headers=headers if path.startswith("/api/") else None)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (name, response.status_code)
    return elapsed, collections.seconds[2] - full


def _params(client, headers, path: str, params):
    """The query of a list's page: its filter, or the cursor its first page gives for the next."""
    if params != "next":
        return params
    if path.startswith("/api/"):
        return {"cursor": client.get(path, headers=headers).json["next"]}
    return {"cursor": client.get(path).get_data(as_text=True).split("cursor=")[1].split('"')[0]}


def measure(apps: dict[int, object], requests: int) -> dict[int, dict[str, tuple[float, float, float, float]]]:
    """(p95, median, slowest, full collections in the slowest) in ms of each list at each size. Requests go
    round-robin over the lists and the sizes, so the machine's load (shared, noisy) falls on both sizes alike; a
    first round warms each app up."""
    clients = {size: {"qa": _client(app), "admin": _client(app, "daisuke.kato")} for size, app in apps.items()}
    queries = {size: [_params(*by_who[_who(name)], path, params) for name, path, params in LISTS]
               for size, by_who in clients.items()}
    times: dict[int, dict[str, list[tuple[float, float]]]] = {size: {name: [] for name, _p, _q in LISTS}
                                                              for size in apps}
    collections = Collections()
    gc.callbacks.append(collections)
    try:
        for round_ in range(requests + 1):
            for index, (name, path, _query) in enumerate(LISTS):
                for size, by_who in clients.items():
                    client, headers = by_who[_who(name)]
                    timed = _timed(client, headers, name, path, queries[size][index], collections)
                    if round_:  # the first round warms up
                        times[size][name].append(timed)
    finally:
        gc.callbacks.remove(collections)
    return {size: {name: _summary(found) for name, found in by_list.items()} for size, by_list in times.items()}


def _summary(found: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    elapsed = [seconds for seconds, _full in found]
    slowest = max(found)
    return (statistics.quantiles(elapsed, n=20)[18] * 1000, statistics.median(elapsed) * 1000, slowest[0] * 1000,
            slowest[1] * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--documents-per-case", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--lists", default="",
                        help="comma-separated list names (e.g. api.tasks,page.deadlines.next): only those")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"),
                        help="postgresql: a throwaway server on a Unix socket in a temporary directory (initdb)")
    arguments = parser.parse_args()
    if arguments.lists:
        wanted = set(arguments.lists.split(","))
        LISTS[:] = [entry for entry in LISTS if entry[0] in wanted]
        if {entry[0] for entry in LISTS} != wanted:
            parser.error(f"unknown lists: {sorted(wanted - {entry[0] for entry in LISTS})}")
    server = None
    if arguments.engine == "postgresql":
        from tests.support.postgres import PostgresServer
        server = PostgresServer().start()
    try:
        with tempfile.TemporaryDirectory() as directory:
            apps = {}
            for size in (arguments.small, arguments.large):
                here = Path(directory) / str(size)
                here.mkdir()
                if server is not None:
                    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
                    with admin.connect() as connection:
                        connection.execute(text(f'CREATE DATABASE "bench_{size}"'))
                    admin.dispose()
                url = server.url(f"bench_{size}") if server is not None else f"sqlite:///{here / 'edms.sqlite3'}"
                apps[size] = build(url, here, size, arguments.documents_per_case)
            # As `edms serve` does after start-up: what is built so far stays out of the collector's full passes,
            # else each one walks the two apps' start-up objects in the middle of a timed request.
            gc.collect()
            gc.freeze()
            results = measure(apps, arguments.requests)
            for app in apps.values():
                app.extensions["edms"].engine.dispose()
    finally:
        if server is not None:
            server.stop()
    load = os.getloadavg()[0]
    for name, _path, _params in LISTS:
        (small, small_median, small_worst, small_gc), (large, large_median, large_worst, large_gc) = (
            results[arguments.small][name], results[arguments.large][name])
        print(json.dumps({"bench": f"scale.{name}", "engine": arguments.engine, "measured": round(large, 2),
                          "raw": round(small, 2), "ratio": round(large / small, 2), "unit": "ms p95",
                          "median_measured": round(large_median, 2), "median_raw": round(small_median, 2),
                          "median_ratio": round(large_median / small_median, 2),
                          # The slowest request at each size and the part of it Python's full collections took.
                          "slowest": [round(small_worst, 1), round(large_worst, 1)],
                          "full_gc_in_slowest": [round(small_gc, 1), round(large_gc, 1)],
                          "objects_frozen": gc.get_freeze_count(),  # what full passes no longer walk
                          "target_ratio": 1.5, "cases": [arguments.small, arguments.large],
                          "documents": [arguments.small * arguments.documents_per_case,
                                        arguments.large * arguments.documents_per_case],
                          "requests": arguments.requests, "load_average": round(load, 1)}), flush=True)


if __name__ == "__main__":
    main()
