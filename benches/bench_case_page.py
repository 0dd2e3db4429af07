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
`--code DIR` imports edms from another checkout (e.g. the main branch; its `edms init` and `edms demo` build the database)
for a before/after pair in one run.
`--engine postgresql` builds the demo in a throw-away PostgreSQL server (tests/support/postgres.py), started on
a Unix socket in a temporary directory and stopped at the end (with `--keep`, only the data directory is kept).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import page_bench
from sqlalchemy import event

ROOT = page_bench.checkout()  # before anything of edms is imported

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


def measure(arguments: argparse.Namespace, directory: Path) -> None:
    if arguments.engine == "postgresql":
        from tests.support.postgres import PostgresServer
        postgres = PostgresServer().start()
        os.environ["EDMS_DATABASE_URL"] = postgres.url()
        try:
            _measure(arguments, directory, fresh=True)
        finally:
            postgres.stop()
        return
    _measure(arguments, directory)


def _measure(arguments: argparse.Namespace, directory: Path, fresh: bool = False) -> None:
    env = page_bench.environment(directory, ROOT)
    page_bench.build(env, directory, fresh)
    app = page_bench.app_in_process(env)
    client = page_bench.signed_in_client(app, page_bench.QA_USER)
    url = f"/cases/{arguments.case}"

    def read() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code

    bare = page_bench.bare_read()
    for _ in range(30):
        read()
        bare()
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
    measured = page_bench.cpu_per_request(read, arguments.requests)
    raw = page_bench.cpu_per_request(bare, arguments.requests)
    load = round(os.getloadavg()[0], 1)
    print(json.dumps({"bench": "case_page.cpu_per_request", "engine": arguments.engine, "code": str(ROOT),
                      "measured": round(measured * 1000, 3),
                      "raw": round(raw * 1000, 3), "ratio": round(raw / measured, 3), "unit": "ms CPU per request",
                      "requests": arguments.requests, "case": arguments.case, "load_average": load}), flush=True)
    print(json.dumps({"bench": "case_page.sql_statements_per_request", "engine": arguments.engine, "measured": per_request,
                      "reading_the_case": own, "unit": "statements"}), flush=True)
    if arguments.profile:
        parts = page_bench.profile_parts(read, arguments.requests, PARTS)
        print(json.dumps({"bench": "case_page.profile_ms_per_request", "engine": arguments.engine, **parts,
                          "load_average": load}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_bench.common_arguments(parser)
    parser.add_argument("--case", type=int, default=1)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    arguments = parser.parse_args()
    page_bench.in_directory(arguments.keep, "edms-bench-case-page-", lambda directory: measure(arguments, directory))


if __name__ == "__main__":
    main()
