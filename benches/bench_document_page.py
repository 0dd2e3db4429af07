"""The document page in one process: CPU and SQL statements per request, against a bare Flask route in the same
process.

    python benches/bench_document_page.py [--requests 300] [--rounds 1] [--document 1] [--user akiko.tanaka] [--keep DIR]
                                          [--profile] [--code DIR]

Builds a demo database in a temporary directory (`edms init`, `edms demo`: only the password KDF made cheap; or
reuses `--keep DIR`), signs a demo reader in (the QA user by default) with Flask's test client and reads
`GET /documents/<id>` N times after a warm-up, then a bare route of a bare Flask app N times through the same test
client machinery (the raw figure). Prints JSON lines: CPU per request (process time: what a core spends, whatever
the load), the statements, transactions (BEGIN) and cookies set per request, and with `--profile` the CPU of the
request's parts under cProfile. `bench_reads.py --only page_document_qa` drives the same page through the deployed
server with wrk; this one isolates what the page costs from the server and the load generator. `--code DIR`
imports edms from another checkout (e.g. the main branch; its `edms init` and `edms demo` build the database)
for a before/after pair in one run.
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
    "before-request hooks (reader, session, scope)": ("app.py", "preprocess_request"),
    "of which the reader (user loader)": ("live_sessions.py", "signed_in_reader"),
    "of which the case scope": ("scope.py", "enforce_case_scope"),
    "of which the idle time-out": ("guards.py", "enforce_idle_timeout"),
    "view": ("document_views.py", "_document_page"),
    "of which the record state (Core statements, digest)": ("record_state.py", "record_state"),
    "of which the trust (revocations, PKI files)": ("signature_views.py", "trust"),
    "of which the CSRF token": ("csrf.py", "generate_csrf"),
    "after-request hooks and the session cookie": ("app.py", "finalize_request"),
    "of which the cookie written": ("sessions.py", "save_session"),
    "of which the unit of work's end": ("runtime.py", "finish"),
    "reading the session cookie": ("sessions.py", "open_session"),
    "connection checkout and BEGIN": ("session.py", "connection"),
}


def measure(arguments: argparse.Namespace, directory: Path) -> None:
    env = page_bench.environment(directory, ROOT)
    page_bench.build(env, directory)
    app = page_bench.app_in_process(env)
    client = page_bench.signed_in_client(app, arguments.user)
    url = f"/documents/{arguments.document}"
    cookies_set: list[int] = []

    def read() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        cookies_set.append("Set-Cookie" in response.headers)

    bare = page_bench.bare_read()
    for _ in range(30):
        read()
        bare()
    statements: list[str] = []
    begins: list[str] = []

    def count(_connection, _cursor, statement, *_rest) -> None:
        statements.append(statement)

    def begun(_connection) -> None:
        begins.append("begin")

    engine = app.extensions["edms"].engine
    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "begin", begun)
    cookies_set.clear()
    samples = 20
    for _ in range(samples):
        read()
    event.remove(engine, "before_cursor_execute", count)
    event.remove(engine, "begin", begun)
    per_request = len(statements) / samples
    cookies = sum(cookies_set) / samples
    # Rounds alternate the page and the bare route; the figures are each one's fastest round (the least disturbed
    # by other processes on a shared machine), the medians beside them.
    pages, bares = [], []
    for _ in range(arguments.rounds):
        pages.append(page_bench.cpu_per_request(read, arguments.requests))
        bares.append(page_bench.cpu_per_request(bare, arguments.requests))
    measured, raw = min(pages), min(bares)
    median = sorted(pages)[len(pages) // 2]
    load = round(os.getloadavg()[0], 1)
    print(json.dumps({"bench": "document_page.cpu_per_request", "engine": "sqlite", "code": str(ROOT),
                      "user": arguments.user, "measured": round(measured * 1000, 3),
                      "raw": round(raw * 1000, 3), "ratio": round(raw / measured, 3), "unit": "ms CPU per request",
                      "median": round(median * 1000, 3), "rounds": arguments.rounds,
                      "requests": arguments.requests, "document": arguments.document, "load_average": load}),
          flush=True)
    print(json.dumps({"bench": "document_page.per_request", "engine": "sqlite", "code": str(ROOT),
                      "statements": per_request, "transactions": len(begins) / samples,
                      "cookies_set": cookies, "unit": "per request"}), flush=True)
    if arguments.profile:
        parts = page_bench.profile_parts(read, arguments.requests, PARTS, arguments.profile_out)
        print(json.dumps({"bench": "document_page.profile_ms_per_request", "engine": "sqlite", **parts,
                          "load_average": load}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    page_bench.common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=1, help="measure this many rounds; report the fastest")
    parser.add_argument("--document", type=int, default=1)
    parser.add_argument("--user", default=page_bench.QA_USER, help="the demo reader (default: the QA user)")
    parser.add_argument("--profile-out", help="with --profile: write the cProfile statistics to this file")
    arguments = parser.parse_args()
    page_bench.in_directory(arguments.keep, "edms-bench-document-page-", lambda directory: measure(arguments, directory))


if __name__ == "__main__":
    main()
