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
imports edms from another checkout (e.g. the main branch) for a before/after pair in one run.
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


def environment(directory: Path) -> dict[str, str]:
    return dict(os.environ, EDMS_ENV="development", EDMS_DATA_DIR=str(directory / "data"),
                EDMS_PASSWORD_ARGON2_TIME_COST="1", EDMS_PASSWORD_ARGON2_MEMORY_KIB="1024",
                EDMS_PASSWORD_ARGON2_PARALLELISM="1", EDMS_LOGIN_RATE_LIMIT="1000 per minute")


def build(directory: Path) -> None:
    if (directory / "data").exists():
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
    build(directory)
    os.environ.update(environment(directory))
    from flask import Flask, jsonify
    from sqlalchemy import event

    from edms.app import create_app

    app = create_app()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = client.post("/login", data={"username": arguments.user, "password": PASSWORD, "csrf_token": csrf})
    assert signed_in.status_code == 302, signed_in.status_code
    url = f"/documents/{arguments.document}"
    cookies_set: list[int] = []

    def read() -> None:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        cookies_set.append("Set-Cookie" in response.headers)

    bare = Flask("bare")
    bare.get("/bare")(lambda: jsonify({"id": 1, "number": "OOS-0001", "status": "approved"}))
    bare_client = bare.test_client()

    for _ in range(30):
        read()
        bare_client.get("/bare")
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
        pages.append(cpu_per_request(read, arguments.requests))
        bares.append(cpu_per_request(lambda: bare_client.get("/bare"), arguments.requests))
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
        profile = cProfile.Profile(time.process_time)  # CPU, not wall time: the machine is shared
        profile.enable()
        for _ in range(arguments.requests):
            read()
        profile.disable()
        if arguments.profile_out:
            profile.dump_stats(arguments.profile_out)
        profiled = pstats.Stats(profile)
        stats = profiled.stats  # type: ignore[attr-defined]
        calls = profiled.total_calls / arguments.requests  # type: ignore[attr-defined]
        total = sum(v[3] for (file, _line, name), v in stats.items() if name == "wsgi_app" and file.endswith("app.py"))
        parts = {label: sum(v[3] for (file, _line, name), v in stats.items()
                            if file.endswith(suffix) and name == function) / arguments.requests * 1000
                 for label, (suffix, function) in PARTS.items()}
        print(json.dumps({"bench": "document_page.profile_ms_per_request", "engine": "sqlite",
                          "whole_request_under_profiler": round(total / arguments.requests * 1000, 2),
                          "python_calls_per_request": round(calls),  # the load does not move this one
                          **{label: round(ms, 2) for label, ms in parts.items()}, "load_average": load}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1, help="measure this many rounds; report the fastest")
    parser.add_argument("--document", type=int, default=1)
    parser.add_argument("--user", default="akiko.tanaka", help="the demo reader (default: the QA user)")
    parser.add_argument("--keep", help="build the demo database in this directory and keep it (reused when present)")
    parser.add_argument("--profile", action="store_true", help="also split the CPU by part under cProfile")
    parser.add_argument("--profile-out", help="with --profile: write the cProfile statistics to this file")
    parser.add_argument("--code", help="import edms from this checkout instead (same database, same run)")
    arguments = parser.parse_args()
    if arguments.keep:
        directory = Path(arguments.keep)
        directory.mkdir(parents=True, exist_ok=True)
        measure(arguments, directory)
        return
    with tempfile.TemporaryDirectory(prefix="edms-bench-document-page-") as directory:
        measure(arguments, Path(directory))


if __name__ == "__main__":
    main()
