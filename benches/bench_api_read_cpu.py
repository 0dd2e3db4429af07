"""CPU per request of the API document read in-process, held against a bare Flask route in the same process.

    python benches/bench_api_read_cpu.py [--engine sqlite|postgresql] [--requests 3000] [--keep DIR] [--profile]

Builds the demo database as `bench_reads.py` does (`edms init`, `edms demo`; only the password KDF made cheap),
creates the app in this process and drives `GET /api/v1/documents/1` with a QA user's bearer token straight
through the WSGI callable (no socket, no waitress, no wrk): what is left is the application's own CPU per read
(Flask's request machinery, the hooks, the token and document read, the JSON answer), measured with
`time.process_time` over `--requests` reads after a warm-up. The raw figure is a bare Flask app answering a small
JSON object through the same loop. Steadier than `bench_reads.py` on a loaded machine (no load generator sharing
the cores, no database server's CPU counted on PostgreSQL), but it leaves out waitress and the round trips:
both benches are needed. `--profile` prints the top of a cProfile of the read to stderr. Not part of the suite.
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "Demo-Pass-2026!"  # edms.demo.DEMO_PASSWORD
QA_USER = "akiko.tanaka"


def loop(app, environ: dict) -> Callable[[], bytes]:
    def once() -> bytes:
        status: list[str] = []
        body = app(dict(environ), lambda s, _h, _e=None: status.append(s))
        data = b"".join(body)
        if hasattr(body, "close"):
            body.close()
        if not status[0].startswith("200"):
            raise RuntimeError(f"answered {status[0]}: {data[:200]!r}")
        return data

    return once


def cpu_us(once: Callable[[], bytes], requests: int) -> float:
    for _ in range(min(200, requests)):
        once()
    started = time.process_time()
    for _ in range(requests):
        once()
    return 1e6 * (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"))
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--keep", help="build in this directory and keep it (SQLite: a kept one is reused)")
    parser.add_argument("--profile", action="store_true")
    arguments = parser.parse_args()
    directory = Path(arguments.keep) if arguments.keep else Path(tempfile.mkdtemp(prefix="edms-api-cpu-"))
    env = {"EDMS_ENV": "development", "EDMS_DATA_DIR": str(directory / "data"),
           "EDMS_PASSWORD_ARGON2_TIME_COST": "1", "EDMS_PASSWORD_ARGON2_MEMORY_KIB": "1024",
           "EDMS_PASSWORD_ARGON2_PARALLELISM": "1", "EDMS_LOGIN_RATE_LIMIT": "1000 per minute"}
    postgres = None
    if arguments.engine == "postgresql":
        from tests.support.postgres import PostgresServer
        postgres = PostgresServer().start()
        env["EDMS_DATABASE_URL"] = postgres.url()
    try:
        os.environ.update(env)
        edms = str(Path(sys.executable).parent / "edms")
        if postgres is not None or not (directory / "data").exists():
            subprocess.run([edms, "init"], env=dict(os.environ), check=True, capture_output=True)
            subprocess.run([edms, "demo"], env=dict(os.environ), check=True, capture_output=True)
        from flask import Flask, jsonify
        from werkzeug.test import EnvironBuilder

        from edms.app import create_app

        app = create_app()
        token = app.test_client().post("/api/v1/auth/token",
                                       json={"username": QA_USER, "password": PASSWORD}).get_json()["token"]
        read = EnvironBuilder(path="/api/v1/documents/1", headers={"Authorization": f"Bearer {token}"}).get_environ()
        read["REMOTE_ADDR"] = "127.0.0.1"
        bare = Flask("bare")
        bare.get("/bare")(lambda: jsonify({"id": 1, "number": "OOS-0001", "status": "approved"}))
        bare_environ = EnvironBuilder(path="/bare").get_environ()
        bare_environ["REMOTE_ADDR"] = "127.0.0.1"
        gc.freeze()  # as `edms serve` does after start-up
        app_once, bare_once = loop(app.wsgi_app, read), loop(bare.wsgi_app, bare_environ)
        # Alternated, so that a change of the machine's load falls on both.
        bare_first, measured = cpu_us(bare_once, arguments.requests), cpu_us(app_once, arguments.requests)
        raw = (bare_first + cpu_us(bare_once, arguments.requests)) / 2
        print(json.dumps({"bench": "api_read_cpu.document_qa", "engine": arguments.engine,
                          "measured": round(measured, 1), "raw": round(raw, 1), "ratio": round(raw / measured, 3),
                          "unit": "CPU µs per request (in-process; ratio = bare ÷ read)", "requests": arguments.requests,
                          "load_average": round(os.getloadavg()[0], 1)}), flush=True)
        if arguments.profile:
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(arguments.requests):
                app_once()
            profile.disable()
            text = io.StringIO()
            pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(40)
            print(text.getvalue(), file=sys.stderr)
        app.extensions["edms"].engine.dispose()
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
