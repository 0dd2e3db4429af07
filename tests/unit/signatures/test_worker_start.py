"""A verification run's workers start without re-running the program that started them (issue #15: a spawned
interpreter re-runs its parent's main module by path; for `edms verify` that is the console script, which imports
the whole application: seconds for each worker on a loaded machine, for nothing a worker uses). The program's
main module runs once, in the program; the workers judge all the same."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = '''
import sys
with open(sys.argv[1], "a", encoding="utf-8") as runs:
    runs.write(__name__ + "\\n")
if __name__ == "__main__":
    from datetime import UTC, datetime
    from edms.crypto.pki import bootstrap_pki
    from edms.signatures import batch_check
    from edms.signatures.verdict import Trust
    from edms.signatures.verification_run import _pool
    pki = bootstrap_pki("Example Cell Therapy K.K.", datetime.now(UTC))
    anchors = batch_check.WorkerAnchors((pki.root_cert,), pki.system_cert, (pki.root_cert,))
    with _pool(Trust(anchors, {}, ()), 2) as pool:
        empty = batch_check.Batch([], {}, {}, {}, {})
        print([pool.submit(batch_check.judge_in_worker, empty).result() for _ in range(4)])
    print("main module still has its path:", __file__ == sys.argv[0])
'''


def test_workers_judge_without_re_running_the_program_that_started_them(tmp_path: Path):
    program = tmp_path / "edms_verify_like.py"  # a program run by path, as the `edms` console script is
    program.write_text(PROGRAM, encoding="utf-8")
    runs = tmp_path / "runs.txt"
    completed = subprocess.run([sys.executable, str(program), str(runs)], check=True, capture_output=True, text=True)
    assert completed.stdout.splitlines() == ["[[], [], [], []]", "main module still has its path: True"]
    assert runs.read_text(encoding="utf-8").splitlines() == ["__main__"]  # never "__mp_main__" in a worker
