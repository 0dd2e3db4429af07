"""The signatures check's CPU per signature in one process, against the raw work it performs, on a kept archive:
the figures that do not follow the load of a shared machine (CPU time, Python calls per signature).

    python benches/bench_verify_archive.py --quick --one-size --keep /tmp/archive   # once: builds the archive
    python benches/bench_verify_cpu.py --keep /tmp/archive [--calls]
    PYTHONPATH=/path/to/other/checkout python benches/bench_verify_cpu.py ...      # another checkout's code

Reads every batch of the kept archive's signatures as `edms verify` reads them (`verification_run._batches`, not
timed), then judges them all cold in this process (`batch_check.judge` inside a new `memo.shared_run()`: what a
worker does), timing its CPU (`time.process_time`). The raw work is `verify_raw.signature_operations` on the
archive's sample signature (per signature two ECDSA P-256 verifications and SHA-256 over the signed bytes), timed
by CPU in the same process right after. `--calls` instead judges them cold under cProfile and prints the Python
calls per signature (load-independent; no time: a process's caches, e.g. its manifests, are warm after one pass).
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import archive_build  # noqa: E402  (the archive kept by bench_verify_archive.py --keep)
import verify_raw  # noqa: E402  (the raw work of a cold check)
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import edms  # noqa: E402
from edms.pki import trust_anchors  # noqa: E402
from edms.signatures import batch_check  # noqa: E402
from edms.signatures.verification import trust_from  # noqa: E402
from edms.signatures.verification_run import SIGNATURE_BATCH, _batches  # noqa: E402
from edms.verifier import memo  # noqa: E402


def judge_all(batches, trust) -> float:
    """CPU seconds to judge every batch cold (a new shared run); every signature must be valid."""
    tick = time.process_time()
    with memo.shared_run():
        problems = [problem for batch in batches for problem in batch_check.judge(batch, trust)]
    seconds = time.process_time() - tick
    assert not problems, problems[:3]
    return seconds


def raw_cpu_seconds(sample, seconds: float = 1.0) -> float:
    operations = verify_raw.signature_operations(sample)
    count, tick = 0, time.process_time()
    while time.process_time() - tick < seconds:
        for operation in operations:
            operation()
        count += 1
    return (time.process_time() - tick) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", required=True, help="the --keep folder of bench_verify_archive.py")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--signatures", type=int, default=2_000)
    parser.add_argument("--calls", action="store_true", help="also count Python calls per signature (cProfile)")
    args = parser.parse_args()
    built = archive_build.load_kept(Path(args.keep) / f"{args.events}-{args.signatures}", args.events, args.signatures)
    if built is None:
        raise SystemExit("no kept archive of that size: run bench_verify_archive.py --keep first")
    engine = create_engine(built.settings.database_url)
    with engine.connect() as connection:
        with Session(bind=connection) as session:
            trust = trust_from(session, trust_anchors(built.settings))
        batches = list(_batches(connection, SIGNATURE_BATCH, with_links=True))
    count = sum(len(batch.signatures) for batch in batches)
    load = os.getloadavg()[0]
    line = {"bench": "verify_cpu", "code": str(Path(edms.__file__).resolve().parent.parent), "signatures": count}
    if args.calls:
        profiler = cProfile.Profile()
        profiler.enable()
        judge_all(batches, trust)
        profiler.disable()
        line["python_calls_per_signature"] = round(pstats.Stats(profiler).total_calls / count, 1)  # type: ignore[attr-defined]
    else:
        check = judge_all(batches, trust) / count
        raw = raw_cpu_seconds(built.sample)
        line.update({"measured": round(check * 1e6, 1), "raw": round(raw * 1e6, 1), "ratio": round(raw / check, 3),
                     "unit": "CPU µs per signature judged cold in one process (raw: 2 ECDSA P-256 verify + SHA-256 "
                             "over the signed bytes, CPU µs, same process)",
                     "load_average_1m": [round(load, 2), round(os.getloadavg()[0], 2)]})
    print(json.dumps(line))


if __name__ == "__main__":
    main()
