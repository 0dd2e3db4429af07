"""The multi-node tests (tests/cluster, issue 16) run serially in their own CI stage, never in the parallel
suite whose browser tests they would starve."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_parallel_suite_deselects_the_multi_node_tests_unless_their_stage_asks_for_them():
    env = {key: value for key, value in os.environ.items() if key != "EDMS_CLUSTER_TESTS"}
    collected = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q",
                                "tests/cluster"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert "no tests collected" in collected.stdout and "deselected" in collected.stdout, collected.stdout


def test_ci_runs_the_multi_node_stage_after_the_parallel_suite_and_before_the_api_contract():
    stages = [line.split()[1] for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("stage ")]
    assert stages.index("tests") < stages.index("multi-node") < stages.index("api-contract")
    assert "EDMS_CLUSTER_TESTS=1" in (ROOT / "scripts" / "cluster_test.sh").read_text()
