"""Authenticated reads against the server as deployed, held against a bare Flask route on the same server.

    python benches/bench_reads.py [--engine sqlite|postgresql] [--seconds 10] [--connections 16] [--threads 8]
                                  [--only api_document_qa,api_document_inspector] [--keep DIR] [--code DIR]

Builds a demo-sized database in a temporary directory (`edms init` and `edms demo`: the demo people and one
signed case per regime), then starts `edms serve` (waitress, 8 threads) on the loopback interface and, in
the same run, a bare Flask app with one route answering a small JSON object, served by waitress with the
same settings. wrk (Debian package `wrk`) drives each for a bounded time with 16 connections:

- bare:                  GET /bare on the bare app (the raw figure every other one is held against);
- api_document_qa:       GET /api/v1/documents/{id} with a QA user's bearer token;
- api_document_inspector GET /api/v1/documents/{id} with an inspector's bearer token (each one audited);
- page_document_qa:      GET /documents/{id} with a QA user's session cookie (the HTML page);
- page_document_inspector the same page for the inspector (each one audited);
- page_case_qa:          GET /cases/{id} (the demo's first case) with the QA user's session cookie.

Prints one JSON line per measure: requests per second, the bare figure and their ratio, and the CPU time per request
of the edms server process and of the bare one (`server_cpu_ms`, `bare_cpu_ms`, Linux). A measure with any
non-2xx answer is reported with `"errors"` and no ratio. Only the password KDF is made cheap (the demo
signs with real keys; reads never run the KDF). `edms` runs the checkout of this file, or `--code DIR`'s, or what
an explicit PYTHONPATH names first (the virtualenv's `edms` script alone would run the checkout it was installed
from). Not part of the test suite.
"""
from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import page_bench
from page_bench import PASSWORD, QA_USER

ROOT = page_bench.checkout()  # the edms served (`--code DIR`, else this checkout) and tests.support

# Flask-Login's strong session protection binds a session to the client's address and User-Agent: the
# cookie is made and used with the same one (else every page would be a redirect to the sign-in page).
USER_AGENT = "edms-bench-reads"
INSPECTOR_USER = "john.carter"
CASE = 1  # the demo's first case (CASE-2026-0001)
BARE_APP = """
import sys
from flask import Flask, jsonify
from waitress import serve
app = Flask("bare")
@app.get("/bare")
def bare():
    return jsonify({"id": 1, "number": "OOS-0001", "status": "approved"})
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=int(sys.argv[2]), _quiet=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> dict[str, float]:
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-H", f"User-Agent: {USER_AGENT}"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    requests = re.search(r"(\d+) requests in", output)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rate": rate, "errors": int(errors.group(1)) if errors else 0,  # a redirect counts as an error too
            "requests": int(requests.group(1)) if requests else 0,
            "p50_ms": round(float(p50.group(1)) * scale[p50.group(2)], 2) if p50 else -1.0}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def witness_heads(directory: Path) -> int:
    try:
        return (directory / "data" / "witness" / "tree-heads.jsonl").read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def token(base: str, username: str) -> str:
    request = urllib.request.Request(f"{base}/api/v1/auth/token", method="POST",
                                     data=json.dumps({"username": username, "password": PASSWORD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)["token"]


def session_cookie(base: str, username: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    page = opener.open(f"{base}/login").read().decode()
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = urllib.parse.urlencode({"csrf_token": csrf, "username": username, "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=form).read()
    cookie = next(c for c in jar if c.name == "edms_session")
    return f"{cookie.name}={cookie.value}"


def first_document_id(base: str, bearer: str) -> int:
    """The demo's first document (ids start at 1), checked readable with the token."""
    request = urllib.request.Request(f"{base}/api/v1/documents/1", headers={"Authorization": f"Bearer {bearer}"})
    with urllib.request.urlopen(request) as response:
        return int(json.load(response)["id"])


def answered(url: str, headers: dict[str, str]) -> None:
    """The target answers 200 itself (not a redirect to the sign-in page)."""
    request = urllib.request.Request(url, headers={**headers, "User-Agent": USER_AGENT})
    opener = urllib.request.build_opener(NoRedirect)
    with opener.open(request) as response:
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def run(arguments: argparse.Namespace, directory: Path) -> list[dict[str, object]]:
    env = page_bench.environment(directory, ROOT)
    postgres = None
    if arguments.engine == "postgresql":
        from tests.support.postgres import PostgresServer
        postgres = PostgresServer().start()
        env["EDMS_DATABASE_URL"] = postgres.url()
    edms = page_bench.edms_command()
    processes: list[subprocess.Popen] = []
    try:
        page_bench.build(env, directory, fresh=postgres is not None)  # SQLite with --keep DIR: built once, reused
        app_port, bare_port = free_port(), free_port()
        processes.append(subprocess.Popen([*edms, "serve", "--host", "127.0.0.1", "--port", str(app_port),
                                           "--threads", str(arguments.threads)], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        processes.append(subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port), str(arguments.threads)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_listening(app_port, processes[0])
        wait_listening(bare_port, processes[1])
        base = f"http://127.0.0.1:{app_port}"
        qa, inspector = token(base, QA_USER), token(base, INSPECTOR_USER)
        document = first_document_id(base, qa)
        qa_cookie, inspector_cookie = session_cookie(base, QA_USER), session_cookie(base, INSPECTOR_USER)
        targets = [
            ("bare", f"http://127.0.0.1:{bare_port}/bare", {}),
            ("api_document_qa", f"{base}/api/v1/documents/{document}", {"Authorization": f"Bearer {qa}"}),
            ("api_document_inspector", f"{base}/api/v1/documents/{document}", {"Authorization": f"Bearer {inspector}"}),
            ("page_document_qa", f"{base}/documents/{document}", {"Cookie": qa_cookie}),
            ("page_document_inspector", f"{base}/documents/{document}", {"Cookie": inspector_cookie}),
            ("page_case_qa", f"{base}/cases/{CASE}", {"Cookie": qa_cookie}),
        ]
        results: list[dict[str, object]] = []
        bare_url = targets[0][1]
        for name, url, headers in targets:
            if arguments.only and name != "bare" and not any(part in name for part in arguments.only.split(",")):
                continue
            answered(url, headers)
            wrk(url, 1, arguments.connections, headers)  # warm up: caches, connection pool, imports
            # The machine's load drifts: each figure is held against the bare route measured just before it.
            bare_cpu = cpu_seconds(processes[1].pid)
            bare = wrk(bare_url, arguments.seconds, arguments.connections, {})
            bare_rate, bare_cpu = bare["rate"], cpu_seconds(processes[1].pid) - bare_cpu
            heads_before = witness_heads(directory)
            server_cpu = cpu_seconds(processes[0].pid)
            measured = wrk(url, arguments.seconds, arguments.connections, headers)
            server_cpu = cpu_seconds(processes[0].pid) - server_cpu
            # Signed tree heads appended (one fsync of the witness each) per request answered.
            heads_per_request = (witness_heads(directory) - heads_before) / max(measured["requests"], 1)
            line: dict[str, object] = {
                "bench": f"reads.{name}", "engine": arguments.engine, "measured": measured["rate"], "raw": bare_rate,
                "ratio": round(measured["rate"] / bare_rate, 3) if bare_rate and not measured["errors"] else None,
                "unit": "requests/s", "p50_ms": measured["p50_ms"], "connections": arguments.connections,
                "threads": arguments.threads, "seconds": arguments.seconds, "cpus": os.cpu_count(),
                "load_average": round(os.getloadavg()[0], 1),
                "witness_fsyncs_per_request": round(heads_per_request, 3),
                # The server process's CPU per answered request (the database server's not included), and the
                # bare server's: steadier than the ratio on a loaded machine, whose load shifts between runs.
                "server_cpu_ms": round(1000 * server_cpu / max(measured["requests"], 1), 3),
                "bare_cpu_ms": round(1000 * bare_cpu / max(bare["requests"], 1), 3),
            }
            if measured["errors"]:
                line["errors"] = measured["errors"]
            print(json.dumps(line), flush=True)
            results.append(line)
        return results
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if postgres is not None:
            postgres.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--only", help="measure only the targets whose name contains one of these (comma-separated)")
    parser.add_argument("--keep", help="build in this directory and keep it (SQLite: a kept one is reused)")
    parser.add_argument("--code", help="serve edms from this checkout instead (a PYTHONPATH given explicitly wins)")
    arguments = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk; scripts/setup.sh installs it)")
    page_bench.in_directory(arguments.keep, "edms-bench-reads-", lambda directory: run(arguments, directory))


if __name__ == "__main__":
    main()
