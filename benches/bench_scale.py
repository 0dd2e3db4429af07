"""Do pages and API lists keep their time as the archive grows? p95 latency at 10² cases against 10⁴ cases
and 10⁵ records (issue #15, scale: target within 1.5×).

    python benches/bench_scale.py [--small 100] [--large 10000] [--documents-per-case 10] [--requests 40]
                                  [--engine sqlite|postgresql]

Builds two archives, each a migrated database (SQLite files in a temporary directory, or two databases on a
throwaway PostgreSQL server with --engine postgresql), with a QA user who has signed in once and one case
opened through the use case (its site, audit event and stored next deadline as the pages leave them). The
rest is inserted in bulk with SQL, not timed: cases across the three jurisdictions (a third with a running
48-hour clock stored), 10 records per case with one version each, 3 notifications per case for the QA user.
Then it requests each main page and API list (first page, a filtered page, the page after the first
cursor) through the Flask test client, signed in as the QA user, round-robin over lists and both sizes so
the machine's load falls on both alike, and prints one JSON line per list: the p95
at the large size (`measured`) against the p95 at the small size (`raw`) and their ratio.
"""
from __future__ import annotations

import argparse
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

from sqlalchemy import insert, select, text  # noqa: E402

from edms.app import create_app  # noqa: E402
from edms.application import cases as case_use_cases  # noqa: E402
from edms.application.unit_of_work import command  # noqa: E402
from edms.audit import AuditContext  # noqa: E402
from edms.cases import models as cm  # noqa: E402
from edms.cases.facts import CaseFacts  # noqa: E402
from edms.config import load_settings  # noqa: E402
from edms.db import make_engine, transaction  # noqa: E402
from edms.documents import models as dm  # noqa: E402
from edms.migrate import upgrade  # noqa: E402
from edms.notifications.models import Notification  # noqa: E402
from edms.pki import PkiStore  # noqa: E402
from edms.users.models import User  # noqa: E402
from tests.support.people import PASSWORD, new_account  # noqa: E402

JURISDICTIONS = (("eu", "EU"), ("us", "US"), ("jp_proposed", "JP"))
TYPES = ("oos_notification", "deviation_report", "qa_release", "regulatory_notification", "safety_report")
LISTS = (
    ("page.cases", "/cases/", {}), ("page.cases.filtered", "/cases/", {"jurisdiction": "EU"}),
    ("page.cases.next", "/cases/", "next"), ("page.documents", "/documents/", {}),
    ("page.documents.filtered", "/documents/", {"type": "deviation_report"}),
    ("page.notifications", "/notifications/", {}),
    ("api.cases", "/api/v1/cases", {}), ("api.cases.filtered", "/api/v1/cases", {"jurisdiction": "JP"}),
    ("api.cases.next", "/api/v1/cases", "next"), ("api.notifications", "/api/v1/notifications", {}),
)


def _bulk(services, cases: int, per_case: int) -> None:
    """Everything but the first case, in bulk (not timed)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(services.sessions) as session:
        qa = session.scalars(select(User).where(User.username == "akiko.tanaka")).one()
        first = session.scalars(select(cm.Case)).one()
        case_rows = []
        for n in range(1, cases):
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
            session.execute(insert(dm.DocumentVersion), versions)
        notes = [{"recipient_id": qa.id, "recipient_email": None, "subject": f"Signature needed {n}",
                  "body": "A record waits for your signature.", "kind": "signature_needed", "case_id": None,
                  "created_at": now - timedelta(seconds=n // 2), "status": "recorded", "attempts": 0}
                 for n in range(3 * cases)]
        for start in range(0, len(notes), 5000):
            session.execute(insert(Notification), notes[start:start + 5000])


def build(database_url: str, directory: Path, cases: int, per_case: int):
    settings = load_settings("testing", overrides={"database_url": database_url, "data_dir": str(directory / "data")})
    upgrade(make_engine(settings.database_url))
    PkiStore.for_settings(settings).create(settings.organisation, kdf_iterations=1000)
    app = create_app(settings)
    app.config["TESTING"] = True
    services = app.extensions["edms"]
    with transaction(services.sessions) as session:
        new_account(session, settings, "akiko.tanaka", {"qa"}, printed_name="Akiko Tanaka")
    with command(services.sessions) as session:
        qa = session.scalars(select(User).where(User.username == "akiko.tanaka")).one()
        case_use_cases.open_case(services, session, AuditContext.system("bench_scale"), qa, CaseFacts(
            regime_key="eu", product="Autologous anti-CD19 CAR-T", lot="E2026-0107", patient_ref="PT-EU3301",
            treating_site="Charité Berlin", site_timezone="Europe/Berlin", physician_id=None,
            oos_detected_at=datetime(2026, 10, 20, 8, tzinfo=UTC)))
    _bulk(services, cases, per_case)
    with services.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return app


def _client(app):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"username": "akiko.tanaka", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    bearer = client.post("/api/v1/auth/token", json={"username": "akiko.tanaka", "password": PASSWORD}).json["token"]
    return client, {"Authorization": f"Bearer {bearer}"}


def _timed(client, headers, name: str, path: str, params) -> float:
    started = time.perf_counter()
    response = client.get(path, query_string=params, headers=headers if path.startswith("/api/") else None)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, (name, response.status_code)
    return elapsed


def _params(client, headers, path: str, params):
    """The query of a list's page: its filter, or the cursor its first page gives for the next."""
    if params != "next":
        return params
    if path.startswith("/api/"):
        return {"cursor": client.get(path, headers=headers).json["next"]}
    return {"cursor": client.get(path).get_data(as_text=True).split("cursor=")[1].split('"')[0]}


def measure(apps: dict[int, object], requests: int) -> dict[int, dict[str, tuple[float, float]]]:
    """(p95, median) in ms of each list at each size. Requests go round-robin over the lists and the sizes, so the
    machine's load (shared, noisy) falls on both sizes alike; a first round warms each app up."""
    clients = {size: _client(app) for size, app in apps.items()}
    queries = {size: [_params(client, headers, path, params) for _name, path, params in LISTS]
               for size, (client, headers) in clients.items()}
    times: dict[int, dict[str, list[float]]] = {size: {name: [] for name, _p, _q in LISTS} for size in apps}
    for round_ in range(requests + 1):
        for index, (name, path, _query) in enumerate(LISTS):
            for size, (client, headers) in clients.items():
                elapsed = _timed(client, headers, name, path, queries[size][index])
                if round_:  # the first round warms up
                    times[size][name].append(elapsed)
    return {size: {name: (statistics.quantiles(found, n=20)[18] * 1000, statistics.median(found) * 1000)
                   for name, found in by_list.items()} for size, by_list in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=10_000)
    parser.add_argument("--documents-per-case", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"),
                        help="postgresql: a throwaway server on a Unix socket in a temporary directory (initdb)")
    arguments = parser.parse_args()
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
            results = measure(apps, arguments.requests)
            for app in apps.values():
                app.extensions["edms"].engine.dispose()
    finally:
        if server is not None:
            server.stop()
    load = os.getloadavg()[0]
    for name, _path, _params in LISTS:
        (small, small_median), (large, large_median) = results[arguments.small][name], results[arguments.large][name]
        print(json.dumps({"bench": f"scale.{name}", "engine": arguments.engine, "measured": round(large, 2),
                          "raw": round(small, 2), "ratio": round(large / small, 2), "unit": "ms p95",
                          "median_measured": round(large_median, 2), "median_raw": round(small_median, 2),
                          "median_ratio": round(large_median / small_median, 2),
                          "target_ratio": 1.5, "cases": [arguments.small, arguments.large],
                          "documents": [arguments.small * arguments.documents_per_case,
                                        arguments.large * arguments.documents_per_case],
                          "requests": arguments.requests, "load_average": round(load, 1)}), flush=True)


if __name__ == "__main__":
    main()
