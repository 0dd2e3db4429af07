"""Where an inspector's audited read waits: in-process, threads like waitress's, on the demo database.

    python benches/bench_inspector_serial.py [--keep DIR] [--threads 8] [--requests 40]   # SQLite

`GET /api/v1/documents/1` with the demo inspector's bearer token through the Flask app in this process (no HTTP),
`--threads` threads at once. Prints one JSON line: per answered request, the runs of the request (a SQLite read
whose access record found the write lock taken or its snapshot overtaken runs again, `edms.web.runtime`), the
database commits (each one fsync of the WAL on SQLite with synchronous=FULL), the witness heads (one fsync each),
and the milliseconds each spent holding this process's write turn (`edms.sqlite_gate`: from BEGIN IMMEDIATE or
the upgrade to COMMIT, a shared transaction's time divided among its requests) against the wall time per request,
and how many requests shared one transaction (`edms.application.write_turn`). `--keep DIR`: build the demo database there once
(`edms init`, `edms demo`, as `bench_reads.py --keep DIR`, which can share it) and reuse it; without it, a
temporary directory. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="build the demo database in this directory once and reuse it")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--requests", type=int, default=40, help="per thread")
    arguments = parser.parse_args()
    if arguments.keep:
        measure(arguments, Path(arguments.keep))
        return
    with tempfile.TemporaryDirectory(prefix="edms-bench-inspector-") as directory:
        measure(arguments, Path(directory))


def measure(arguments: argparse.Namespace, directory: Path) -> None:
    os.environ.update(EDMS_ENV="development", EDMS_DATA_DIR=str(directory / "data"),
                      EDMS_PASSWORD_ARGON2_TIME_COST="1", EDMS_PASSWORD_ARGON2_MEMORY_KIB="1024",
                      EDMS_PASSWORD_ARGON2_PARALLELISM="1", EDMS_LOGIN_RATE_LIMIT="100000 per minute",
                      EDMS_JOB_RUNNER="manual")
    if not (directory / "data").exists():
        edms = str(Path(sys.executable).parent / "edms")
        subprocess.run([edms, "init"], check=True, capture_output=True)
        subprocess.run([edms, "demo"], check=True, capture_output=True)
    try:
        from edms import sqlite_gate
    except ImportError:  # the code before the gate (run with PYTHONPATH for a before/after pair)
        sqlite_gate = None  # type: ignore[assignment]
    from edms.app import create_app
    from edms.web import runtime

    app = create_app()
    services = app.extensions["edms"]
    engine = services.engine
    client = app.test_client()
    answer = client.post("/api/v1/auth/token", json={"username": "john.carter", "password": "Demo-Pass-2026!"})
    headers = {"Authorization": f"Bearer {answer.get_json()['token']}"}
    assert client.get("/api/v1/documents/1", headers=headers).status_code == 200

    counts = {"runs_again": 0, "commits": 0, "held": 0.0}
    lock = threading.Lock()
    forget = runtime._forget_run

    def counted_forget(*args, **kwargs):
        with lock:
            counts["runs_again"] += 1
        return forget(*args, **kwargs)

    runtime._forget_run = counted_forget  # type: ignore[assignment]
    gate = sqlite_gate.gate_of(engine) if sqlite_gate is not None else None
    if gate is not None:  # time each hold of the write turn
        hold, leave, since = gate._hold, gate.leave, {}

        # Keyed by the connection: a shared transaction (edms.application.write_turn) is begun by one thread and
        # committed by another.
        def timed_hold(connection):
            hold(connection)
            since[id(sqlite_gate._raw(connection))] = time.perf_counter()

        def timed_leave(connection):
            began = since.pop(id(sqlite_gate._raw(connection)), None) if gate._holder is sqlite_gate._raw(connection) else None
            leave(connection)
            if began is not None:
                with lock:
                    counts["held"] += time.perf_counter() - began

        gate._hold, gate.leave = timed_hold, timed_leave  # type: ignore[method-assign]
    from sqlalchemy import event

    @event.listens_for(engine, "commit")
    def _commit(_connection):
        with lock:
            counts["commits"] += 1

    heads_file = directory / "data" / "witness" / "tree-heads.jsonl"
    heads_before = heads_file.read_bytes().count(b"\n")
    failures: list[int] = []

    def reader() -> None:
        local = app.test_client()
        for _ in range(arguments.requests):
            status = local.get("/api/v1/documents/1", headers=headers).status_code
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=reader) for _ in range(arguments.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    answered = arguments.threads * arguments.requests - len(failures)
    heads = heads_file.read_bytes().count(b"\n") - heads_before
    turn = app.extensions.get("edms.write_turn")  # edms.application.write_turn (None before it, or unused)
    print(json.dumps({
        "bench": "reads.inspector_serial", "engine": engine.dialect.name, "threads": arguments.threads,
        "answered": answered, "failures": len(failures), "requests_per_s": round(answered / wall, 1),
        "runs_per_request": round(1 + counts["runs_again"] / max(answered, 1), 2),
        "db_commits_per_request": round(counts["commits"] / max(answered, 1), 2),
        "witness_fsyncs_per_request": round(heads / max(answered, 1), 2),
        "ms_holding_write_turn_per_request": round(1000 * counts["held"] / max(answered, 1), 2) if gate else None,
        "ms_wall_per_request": round(1000 * wall / max(answered, 1), 2),
        "gate_waits": gate.waits if gate is not None else None,
        "requests_per_shared_transaction": round(turn.members / turn.commits, 2) if turn and turn.commits else None,
        "load_average": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
    }), flush=True)


if __name__ == "__main__":
    main()
