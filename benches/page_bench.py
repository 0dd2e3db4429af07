"""What the benches that read the demo database share: the checkout they measure, the demo built once per directory
(only the password KDF made cheap), a signed-in test client, the bare route they are held against, the CPU a
request costs and the directory they work in (kept with `--keep DIR`, else temporary).

A bench imports it as a sibling (`import page_bench`: a script's own folder is on sys.path). Nothing here imports
edms at module level, so that a bench's `--code DIR` alone decides which checkout's edms is measured.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PASSWORD = "Demo-Pass-2026!"  # edms.demo.DEMO_PASSWORD
QA_USER = "akiko.tanaka"


def checkout() -> Path:
    """The checkout whose edms is measured (`--code DIR`, else the one this file is in), put first on sys.path.
    Called before anything of edms is imported."""
    root = Path(__file__).resolve().parent.parent
    if "--code" in sys.argv:
        root = Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    sys.path.insert(0, str(root))
    return root


def environment(directory: Path, code: Path) -> dict[str, str]:
    """The settings of the `edms` commands and of the process that reads. The virtualenv's `edms` script imports
    the checkout it was installed from (an editable install): `code` goes on its PYTHONPATH so that the commands run
    the checkout measured, after a PYTHONPATH given explicitly (which chose the code to run)."""
    path = os.pathsep.join(part for part in (os.environ.get("PYTHONPATH"), str(code)) if part)
    return dict(os.environ, EDMS_ENV="development", EDMS_DATA_DIR=str(directory / "data"), PYTHONPATH=path,
                EDMS_PASSWORD_ARGON2_TIME_COST="1", EDMS_PASSWORD_ARGON2_MEMORY_KIB="1024",
                EDMS_PASSWORD_ARGON2_PARALLELISM="1", EDMS_LOGIN_RATE_LIMIT="1000 per minute")


def edms_command() -> list[str]:
    return [str(Path(sys.executable).parent / "edms")]


def build(env: dict[str, str], directory: Path, fresh: bool = False) -> None:
    """`edms init` and `edms demo`, unless the directory holds a demo already (a kept one is reused)."""
    if (directory / "data").exists() and not fresh:
        return
    subprocess.run([*edms_command(), "init"], env=env, check=True, capture_output=True)
    subprocess.run([*edms_command(), "demo"], env=env, check=True, capture_output=True)


def app_in_process(env: dict[str, str]):
    """The app of the checkout measured, made in this process with `env`, without the background job thread: its
    polls would count among a page's statements and CPU, and it may still write in a temporary directory being
    removed at the end."""
    os.environ.update(env, EDMS_JOB_RUNNER="manual")
    from edms.app import create_app

    return create_app()


def in_directory(keep: str | None, prefix: str, work: Callable[[Path], Any]) -> None:
    """Runs `work` in the kept directory (made if missing) or in a temporary one removed afterwards."""
    if keep:
        directory = Path(keep)
        directory.mkdir(parents=True, exist_ok=True)
        work(directory)
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        work(Path(temporary))


def signed_in_client(app, username: str):
    """A test client of `app` with `username` signed in through the sign-in form."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    signed_in = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    assert signed_in.status_code == 302, signed_in.status_code
    return client


def bare_read() -> Callable[[], object]:
    """One GET of a bare Flask app's one route answering a small JSON object (the raw figure), by its test client."""
    from flask import Flask, jsonify

    bare = Flask("bare")
    bare.get("/bare")(lambda: jsonify({"id": 1, "number": "OOS-0001", "status": "approved"}))
    client = bare.test_client()
    return lambda: client.get("/bare")


def cpu_per_request(get: Callable[[], object], requests: int) -> float:
    """Process time per call of `get`: what a core spends, whatever the load."""
    started = time.process_time()
    for _ in range(requests):
        get()
    return (time.process_time() - started) / requests


def profile_parts(read: Callable[[], object], requests: int, parts: dict[str, tuple[str, str]],
                  out: str | None = None) -> dict[str, float]:
    """`read` run `requests` times under cProfile (CPU, not wall time: the machine is shared): ms per request of the
    whole request, of each part (its function's cumulative time, by file suffix and name) and the Python calls per
    request (the one figure the load does not move)."""
    import cProfile
    import pstats

    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(requests):
        read()
    profile.disable()
    if out:
        profile.dump_stats(out)
    profiled = pstats.Stats(profile)
    stats = profiled.stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, function: str) -> float:
        return sum(v[3] for (file, _line, name), v in stats.items() if file.endswith(suffix) and name == function)

    return {"whole_request_under_profiler": round(cumulative("app.py", "wsgi_app") / requests * 1000, 2),
            "python_calls_per_request": round(profiled.total_calls / requests),  # type: ignore[attr-defined]
            **{label: round(cumulative(*where) / requests * 1000, 2) for label, where in parts.items()}}


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", help="build the demo database in this directory and keep it (reused when present)")
    parser.add_argument("--profile", action="store_true", help="also split the CPU by part under cProfile")
    parser.add_argument("--code", help="import edms from this checkout instead (same database, same run)")
