"""`edms verify` of a whole archive: audit events and signatures per second against raw SHA-256 and raw
ECDSA P-256 in the same run, CPU time and peak memory, at two archive sizes.

    python benches/bench_verify_archive.py [--events 1000000] [--signatures 100000] [--quick] [--one-size]
        [--engine sqlite|postgresql] [--keep DIR] [--together] [--profile N]

Building (not timed; `archive_build.py`): a migrated database (SQLite in a temporary directory or `--keep DIR`,
or a throw-away PostgreSQL server) and an organisation PKI, three signers and a template of real signatures
made through `edms.signatures.operations.sign` (the ceremony of the pages). The archive is then grown IN BULK:
each clone of a template document gets its own document and version rows (its own number, so its own content
hash) and its own signatures, every one made for real (a new manifest signed by the signer's key, stamped by
the internal TSA over its own signature value) by one worker process per CPU, and the audit events that
record them, with filler events between them up to --events, all chained with `edms.audit.chain`.

Timed: the audit chain check and the signatures check of `edms verify` (`check_integrity`), each cold in a new
process (nothing cached, workers started as `edms verify` starts them), with its wall and CPU time (main process
and workers) and peak RSS (each process's VmHWM; `ru_maxrss` survives execve). `--together`: both checks in one
run as well, in turn and with the chain alongside (`chain_alongside`, as `edms verify`). The same again on an
archive a tenth of the size: memory must not grow with the archive. Raw, in the same run: SHA-256 with hex
digest over the events' canonical bytes (one core, as the chain check), and per signature what a cold check
performs (`signature_operations`, on a real stored signature's bytes): two ECDSA P-256 verifications (the
signer's CMS, the TSA's token) and SHA-256 over the signed bytes (manifest, signature value, TSTInfo, TSA
certificate, the version's content), timed on as many cores at once as the check used (one process each, under
the same load), plus the verifications each worker performs once per run for what the signatures share (the CA's
signatures on the chain certificates and CRLs, counted). One JSON line per measure.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archive_build  # noqa: E402  (the archive, built in bulk)
import verify_raw  # noqa: E402  (the raw work of a cold check, shared with bench_signatures.py)
from sqlalchemy import create_engine  # noqa: E402

from edms.signatures.verification_run import POOL_THRESHOLD  # noqa: E402

CHILD = """
import json, os, resource, sys, time
from edms.application.integrity import check_integrity
from edms.config import load_settings
from edms.db import make_engine
from edms.pki import trust_anchors
settings = load_settings("testing", overrides={"database_url": sys.argv[1], "data_dir": sys.argv[2]})
engine = make_engine(settings.database_url)
trust = trust_anchors(settings)
workers = 0 if os.environ.get("BENCH_PROFILE") else os.cpu_count()  # profiled: the workers' code, in process
if workers == 0:
    import cProfile, pstats
    profiler = cProfile.Profile()
    profiler.enable()
# Peak RSS from the kernel's high-water mark of each address space (VmHWM): `ru_maxrss` is NOT reset by execve
# on Linux, so a new process started by a large one reports the larger one's size. The workers' marks are
# sampled while they run (a high-water mark only grows: the last sample is within a tick of their end).
import threading
def hwm(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return 0.0
def children():
    found = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as listed:
            found += listed.read().split()
    return found
worker_marks = {}
stop = threading.Event()
def spawned(pid):  # a worker once it runs its own interpreter: before its exec, a fork holds this process's pages
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return b"multiprocessing" in cmdline.read()
    except OSError:
        return False
def sample():
    while not stop.wait(0.2):
        for pid in children():
            if spawned(pid):
                worker_marks[pid] = max(worker_marks.get(pid, 0.0), hwm(pid))
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
def cpu(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
load = os.getloadavg()[0]
tick, cpu_tick = time.perf_counter(), cpu(resource.RUSAGE_SELF)
report = check_integrity(engine, only=set(sys.argv[3].split(",")), trust=trust, signature_workers=workers,
                         chain_alongside=sys.argv[4] == "alongside")  # as `edms verify`
seconds = time.perf_counter() - tick
main_cpu = cpu(resource.RUSAGE_SELF) - cpu_tick
if workers == 0:
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(int(os.environ["BENCH_PROFILE"]))
stop.set()
sampler.join()
print(json.dumps({"seconds": seconds, "ok": report.ok, "counts": report.counts,
                  "problems": [p.describe() for p in report.problems[:3]],
                  "peak_rss_mib": hwm(), "worker_peak_rss_mib": max(worker_marks.values(), default=0.0),
                  "workers_sampled": len(worker_marks), "main_cpu_seconds": main_cpu,
                  "workers_cpu_seconds": cpu(resource.RUSAGE_CHILDREN),
                  "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)]}))
"""


def verify_cold(settings, check: str, profile: int = 0, alongside: bool = False) -> dict:
    environment = {**os.environ, "BENCH_PROFILE": str(profile)} if profile else None
    completed = subprocess.run([sys.executable, "-c", CHILD, settings.database_url, str(settings.data_dir), check,
                                "alongside" if alongside else "in-turn"],
                               check=True, capture_output=True, text=True, env=environment)
    if profile:
        print(completed.stderr, file=sys.stderr)
    output = completed.stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert result["ok"], result
    return result


def raw_event_seconds(event: bytes, seconds: float = 1.0) -> float:
    count, tick = 0, time.perf_counter()
    while time.perf_counter() - tick < seconds:
        for _ in range(1000):
            hashlib.sha256(event).hexdigest()
        count += 1000
    return (time.perf_counter() - tick) / count


def _figures(result: dict) -> dict:
    """Wall time, CPU time of the main process and of the workers, cores kept busy (CPU ÷ wall), memory, load."""
    cpu_seconds = result["main_cpu_seconds"] + result["workers_cpu_seconds"]
    return {"seconds": round(result["seconds"], 2), "main_cpu_seconds": round(result["main_cpu_seconds"], 2),
            "workers_cpu_seconds": round(result["workers_cpu_seconds"], 2),
            "cores_busy": round(cpu_seconds / result["seconds"], 2), "peak_rss_mib": round(result["peak_rss_mib"], 1),
            "worker_peak_rss_mib": round(result["worker_peak_rss_mib"], 1), "processes_sampled": result["workers_sampled"],
            "load_average_1m": result["load_average_1m"]}


def measure(built: archive_build.Built, engine_name: str, profile: int = 0, together: bool = False) -> list[dict]:
    settings, sample, total_events, made = built.settings, built.sample, built.events, built.signatures
    if profile:  # where the time goes: the signatures check in one process under cProfile (stderr), not timed
        verify_cold(settings, "signatures", profile)
    chain = verify_cold(settings, "audit_chain")
    signed = verify_cold(settings, "signatures")
    # The cores the signatures check used: `edms verify` judges on one worker per CPU from POOL_THRESHOLD up.
    cores = (os.cpu_count() or 1) if made >= POOL_THRESHOLD else 1
    # Each worker also verifies once what the signatures share: at one core's ECDSA rate, all workers at once.
    raw_seconds, shared_count = verify_raw.raw_seconds(sample, settings, made, cores)
    event_seconds = raw_event_seconds(sample[4])
    size = {"events": total_events, "signatures": made, "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2)}
    events_per_second = total_events / chain["seconds"]
    signatures_per_second = made / signed["seconds"]
    lines = [
        {"bench": "verify_archive.events", "engine": engine_name, **size, "measured": round(events_per_second),
         "raw": round(1 / event_seconds), "ratio": round(events_per_second * event_seconds, 3),
         "unit": "events/s (raw: SHA-256 hex over the canonical bytes, one core: the chain check uses one)",
         "check": _figures(chain)},
        {"bench": "verify_archive.signatures", "engine": engine_name, **size, "cores": cores,
         "measured": round(signatures_per_second, 1), "raw": round(made / raw_seconds, 1),
         "ratio": round(raw_seconds / signed["seconds"], 3),
         "unit": f"signatures/s (raw: per signature 2 ECDSA P-256 verify + SHA-256 over the signed bytes, run on "
                 f"{cores} core(s) at once, plus {shared_count} shared chain/CRL verifications per worker)",
         "check": _figures(signed)},
    ]
    if together:  # both checks in one run, as `edms verify` runs them: one after the other, then the chain alongside
        for name, alongside in (("in_turn", False), ("alongside", True)):
            both = verify_cold(settings, "audit_chain,signatures", alongside=alongside)
            lines.append({"bench": f"verify_archive.chain_and_signatures_{name}", "engine": engine_name, **size,
                          "measured": round(both["seconds"], 2),
                          "raw": round(chain["seconds"] + signed["seconds"], 2),
                          "ratio": round(both["seconds"] / (chain["seconds"] + signed["seconds"]), 3),
                          "unit": "seconds (raw: the two checks' seconds, each run alone, above)",
                          "check": _figures(both)})
    return lines


def _archive(folder: Path, events: int, signatures: int, engine_name: str, postgres) -> archive_build.Built:
    """The archive in `folder`: the one kept there for these sizes, else built now (its build time printed)."""
    kept = archive_build.load_kept(folder, events, signatures)
    if kept is not None:
        return kept
    database_url = None
    if postgres is not None:
        name = f"archive_{events}_{signatures}"
        with create_engine(postgres.url(), isolation_level="AUTOCOMMIT").connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        database_url = postgres.url(name)
    tick, load = time.perf_counter(), os.getloadavg()[0]
    built = archive_build.build(folder, events, signatures, database_url)
    print(json.dumps({"bench": "verify_archive.build", "engine": engine_name, "events": built.events,
                      "signatures": built.signatures, "seconds": round(time.perf_counter() - tick, 1),
                      "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)],
                      "unit": "seconds to build the archive (not a measure of edms)"}), file=sys.stderr, flush=True)
    built.save(folder)
    return built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--signatures", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true",
                        help="10^4 events and 2x10^3 signatures (the least `edms verify` judges on every core)")
    parser.add_argument("--one-size", action="store_true", help="skip the archive a tenth of the size")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="first print (stderr) the N costliest functions of the signatures check run in one process")
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default=os.environ.get("BENCH_ENGINE", "sqlite"))
    parser.add_argument("--keep", metavar="DIR", help="build each archive in DIR/<events>-<signatures> once and reuse it "
                        "(SQLite): a second run only verifies")
    parser.add_argument("--together", action="store_true",
                        help="also run both checks in one run, as `edms verify` runs them")
    args = parser.parse_args()
    if args.quick:
        args.events, args.signatures = 10_000, POOL_THRESHOLD
    sizes = [(args.events, args.signatures)]
    if not args.one_size:
        sizes.append((max(args.events // 10, 1), max(args.signatures // 10, archive_build.TEMPLATE_DOCUMENTS * 3)))
    postgres = None
    if args.engine == "postgresql":
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.support.postgres import PostgresServer

        if args.keep:
            raise SystemExit("--keep is for SQLite (the PostgreSQL server is a throw-away one)")
        postgres = PostgresServer().start()
    try:
        for events, signatures in sizes:
            if args.keep:
                folder = Path(args.keep) / f"{events}-{signatures}"
                folder.mkdir(parents=True, exist_ok=True)
                built = _archive(folder, events, signatures, args.engine, postgres)
                lines = measure(built, args.engine, args.profile, args.together)
            else:
                with tempfile.TemporaryDirectory(prefix="edms-bench-verify-archive-") as name:
                    built = _archive(Path(name), events, signatures, args.engine, postgres)
                    lines = measure(built, args.engine, args.profile, args.together)
            for line in lines:
                print(json.dumps(line), flush=True)
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
