"""The case page in one process: CPU and SQL statements per request, against a bare Flask route in the same process.

    python benches/bench_case_page.py [--requests 300] [--case 1] [--keep DIR] [--profile] [--code DIR]
                                      [--engine sqlite|postgresql]

Builds a demo database in a temporary directory (`edms init`, `edms demo`: only the password KDF made cheap; or
reuses `--keep DIR`), signs the demo's QA user in with Flask's test client and reads `GET /cases/<id>` (the demo's
first case by default) N times after a warm-up, then a bare route of a bare Flask app N times through the same
test client machinery (the raw figure). Prints JSON lines: CPU per request (process time: what a core spends,
whatever the load), the statements per request, the case page's own statements (the state read), and with
`--profile` the cumulative CPU of the view's parts under cProfile. `bench_reads.py` drives the same page through
the deployed server with wrk; this one isolates what the page costs from the server and the load generator.
`--code DIR` imports edms from another checkout (e.g. the main branch) for a before/after pair in one run.
`--engine postgresql` builds the demo in a throw-away PostgreSQL server (tests/support/postgres.py), started on
a Unix socket in a temporary directory and stopped at the end (with `--keep`, only the data directory is kept).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "--code" in sys.argv:  # before anything of edms is imported
    ROOT = Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
sys.path.insert(0, str(ROOT))

PASSWORD = "Demo-Pass-2026!"  # edms.demo.DEMO_PASSWORD
QA_USER = "akiko.tanaka"
PARTS = {  # what the profile's lines are summed into, by the function's file and name
    "state read (Core statements, digest)": ("case_page_state.py", "case_page_state"),
    "deadlines stated now": ("case_page_state.py", "deadlines"),
    "time line (SVG)": ("case_picture_svg.py", "timeline_svg"),
    "page template (shell and per-request parts)": ("templating.py", "render_template"),
    "of which the case's content block": ("cases/detail.html", "block_content"),
    "case status from ORM objects (before: every request)": ("cases/queries.py", "case_status"),
    "flow picture, model and SVG (before: every request)": ("case_picture_svg.py", "flow_svg"),
    "before-request hooks (user, session, scope)": ("app.py", "preprocess_request"),
    "after-request hooks and the session cookie": ("app.py", "finalize_request"),
}


def environment(directory: Path) -> dict[str, str]:
    return dict(os.environ, EDMS_ENV="development", EDMS_DATA_DIR=str(directory / "data"),
                EDMS_PASSWORD_ARGON2_TIME_COST="1", EDMS_PASSWORD_ARGON2_MEMORY_KIB="1024",
                EDMS_PASSWORD_ARGON2_PARALLELISM="1", EDMS_LOGIN_RATE_LIMIT="1000 per minute")


def build(directory: Path, fresh: bool = False) -> None:
    if (directory / "data").exists() and not fresh:
        return
    edms = str(Path(sys.executable).parent / "edms")
    env = environment(directory)
    subprocess.run([edms, "init"], env=env, check=True, capture_output=True)
    subprocess.run([edms, "demo"], env=env, check=True, capture_output=True)


def cpu_per_request(get, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        get()
    return (time.process_time() - started) / requests


def measure(arguments: argparse.Namespace, directory: Path) -> None:
    if arguments.engine == "postgresql":
        from tests.support.postgres import PostgresServer
        postgres = PostgresServer().start()
        os.environ["EDMS_DATABASE_URL"] = postgres.url()
        try:
            build(directory, fresh=True)
            _measure(arguments, directory)
        finally:
            postgres.stop()
        return
    build(directory)
    _measure(arguments, directory)


def _measure(arguments: argparse.Namespace, directory: Path) -> None:
    os.environ.update(environment(directory))
    from flask import Flask, jsonify
    from sqlalchemy import event

    from edms.app import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = client.post("/login", data={"username": QA_USER, "password": PASSWORD, "csrf_token": csrf})
    assert signed_in.status_code == 302, signed_in.status_code
    url = f"/cases/{arguments.case}"

    def read() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    bare = Flask("bare")
    bare.get("/bare")(lambda: jsonify({"id": 1, "number": "OOS-0001", "status": "approved"}))
    bare_client = bare.test_client()

    for _ in range(30):
        read()
        bare_client.get("/bare")
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_rest) -> None:
        statements.append(statement)

    engine = app.extensions["edms"].engine
    event.listen(engine, "before_cursor_execute", count)
    read()
    event.remove(engine, "before_cursor_execute", count)
    per_request = len(statements)
    own = sum(1 for s in statements if "FROM cases" in s or "FROM case_" in s or "FROM documents" in s
              or "FROM signatures" in s)
    measured = cpu_per_request(read, arguments.requests)
    raw = cpu_per_request(lambda: bare_client.get("/bare"), arguments.requests)
    load = round(os.getloadavg()[0], 1)
    print(json.dumps({"bench": "case_page.cpu_per_request", "engine": arguments.engine, "code": str(ROOT),
                      "measured": round(measured * 1000, 3),
                      "raw": round(raw * 1000, 3), "ratio": round(raw / measured, 3), "unit": "ms CPU per request",
                      "requests": arguments.requests, "case": arguments.case, "load_average": load}), flush=True)
    print(json.dumps({"bench": "case_page.sql_statements_per_request", "engine": arguments.engine, "measured": per_request,
                      "reading_the_case": own, "unit": "statements"}), flush=True)
    if arguments.profile:
        profile = cProfile.Profile(time.process_time)  # CPU, not wall time: the machine is shared
        profile.enable()
        for _ in range(arguments.requests):
            read()
        profile.disable()
        stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
        total = sum(v[3] for (file, _line, name), v in stats.items() if name == "wsgi_app" and file.endswith("app.py"))
        parts = {label: sum(v[3] for (file, _line, name), v in stats.items()
                            if file.endswith(suffix) and name == function) / arguments.requests * 1000
                 for label, (suffix, function) in PARTS.items()}
        print(json.dumps({"bench": "case_page.profile_ms_per_request", "engine": arguments.engine,
                          "whole_request_under_profiler": round(total / arguments.requests * 1000, 2),
                          **{label: round(ms, 2) for label, ms in parts.items()}, "load_average": load}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--case", type=int, default=1)
    parser.add_argument("--keep", help="build the demo database in this directory and keep it (reused when present)")
    parser.add_argument("--profile", action="store_true", help="also split the CPU by part under cProfile")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--code", help="import edms from this checkout instead (same database, same run)")
    arguments = parser.parse_args()
    if arguments.keep:
        directory = Path(arguments.keep)
        directory.mkdir(parents=True, exist_ok=True)
        measure(arguments, directory)
        return
    with tempfile.TemporaryDirectory(prefix="edms-bench-case-page-") as directory:
        measure(arguments, Path(directory))


if __name__ == "__main__":
    main()
