"""How long `edms verify`'s signature workers take to start, from a program run by path as the `edms` console
script is (its main module imports the CLI, hence the whole application): the time from starting the pool until
every worker has run its initializer and answered, against the same program's own start (python, its imports)
measured in the same run.

    python benches/bench_verify_workers.py [--rounds 3]

One JSON line. `measured` is the workers' start in seconds, `raw` the parent program's own start (a new
interpreter importing `edms.cli`), ratio measured / raw: below 1 when a worker does not re-import the program.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROGRAM = '''
import sys, time
from edms.cli import main  # noqa: F401 (what the `edms` console script imports)
if __name__ == "__main__":
    from datetime import UTC, datetime
    from edms.crypto.pki import bootstrap_pki
    from edms.signatures import batch_check
    from edms.signatures.verdict import Trust
    from edms.signatures.verification_run import _pool
    pki = bootstrap_pki("Example Cell Therapy K.K.", datetime.now(UTC))
    anchors = batch_check.WorkerAnchors((pki.root_cert,), pki.system_cert, (pki.root_cert,))
    tick = time.perf_counter()
    with _pool(Trust(anchors, {}, ()), 2) as pool:
        for future in [pool.submit(batch_check.ready) for _ in range(2)]:
            future.result()
        print(time.perf_counter() - tick)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edms-bench-workers-") as folder:
        program = Path(folder) / "edms_verify_like.py"
        program.write_text(PROGRAM, encoding="utf-8")
        starts, own = [], []
        for _ in range(args.rounds):
            tick = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import edms.cli"], check=True)
            own.append(time.perf_counter() - tick)
            output = subprocess.run([sys.executable, str(program)], check=True, capture_output=True, text=True).stdout
            starts.append(float(output.strip().splitlines()[-1]))
    measured, raw = min(starts), min(own)
    print(json.dumps({"bench": "verify_workers.start", "engine": "none", "workers": 2,
                      "load_average_1m": round(os.getloadavg()[0], 2), "measured": round(measured, 3),
                      "raw": round(raw, 3), "ratio": round(measured / raw, 3),
                      "unit": f"s until 2 workers answer, started from a program run by path importing edms.cli (raw: "
                              f"that program's own start; best of {args.rounds}, each: workers "
                              f"{[round(s, 2) for s in starts]}, program {[round(s, 2) for s in own]})"}))


if __name__ == "__main__":
    main()
