"""Throughput of the production layout (docs/deployment.md): two `edms serve` nodes against one, same load.

    python benches/bench_cluster.py --seconds 60 [--lanes 3]

For each count of nodes (1, then 2) builds the layout of the multi-node tests (tests/cluster/harness.py):
a throw-away PostgreSQL cluster, `edms init` once, nodes with data directories of their own, then drives
the same people through the JSON API for `--seconds`: `--lanes` signing lanes (a QC author, a QA reviewer
and a QA approver each: create, attach raw data, submit, sign three steps, every third record refused)
and an inspector exporting approved records, every request to the next node. The measured figure is the
rate with two nodes; the raw one the rate with one node in the same run (ratio: the gain of the second
node). Password hashing uses the testing parameters (config/testing.toml), so the figures are the rest of
the work; add the Argon2id cost of bench_signatures.py for production. Prints JSON lines.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the harness of tests/cluster

from tests.cluster import load  # noqa: E402
from tests.cluster.harness import Deployment, start_nodes, start_redis, start_softhsm  # noqa: E402
from tests.cluster.postgres import Cluster  # noqa: E402


def measure(nodes: int, seconds: float, lanes: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="edms-bench-cluster-") as scratch:
        database = Cluster("primary")
        deployment = Deployment(root=Path(scratch), database=database)
        redis = None
        try:
            if deployment.switches.keys == "softhsm":
                start_softhsm(deployment)
            if deployment.switches.rate_limits == "redis":
                redis = start_redis(deployment)
            database.start()
            database.create_database()
            deployment.init()
            people, inspector = load.cast(deployment)
            start_nodes(deployment, tuple(f"node-{n}" for n in range(nodes)))
            ledger, stop = load.Ledger(budget=10**9), threading.Event()
            started = time.monotonic()
            threads = load.start_load(deployment, people[:lanes], inspector, ledger, stop)
            stop.wait(seconds)
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            elapsed = time.monotonic() - started
            assert not ledger.server_errors, ledger.server_errors
            latencies = sorted(ledger.latencies)
            return {
                "requests_per_second": ledger.answered / elapsed,
                "signatures_per_second": len(ledger.signatures) / elapsed,
                "latency_p50_ms": 1000 * statistics.median(latencies),
                "latency_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
                "exports": sum(ledger.exports.values()),
                "seconds": elapsed,
            }
        finally:
            deployment.stop()
            database.stop()
            if redis is not None:
                redis.kill()
                redis.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--lanes", type=int, default=3, choices=range(1, len(load.LANE_PEOPLE) + 1))
    args = parser.parse_args()
    one = measure(1, args.seconds, args.lanes)
    two = measure(2, args.seconds, args.lanes)
    for key, unit in (("signatures_per_second", "signatures/s"), ("requests_per_second", "requests/s"),
                      ("latency_p50_ms", "ms"), ("latency_p95_ms", "ms")):
        print(json.dumps({"bench": f"cluster-{key}", "engine": "postgresql", "measured": round(two[key], 3),
                          "raw": round(one[key], 3), "ratio": round(two[key] / one[key], 3) if one[key] else None,
                          "unit": unit, "nodes": [2, 1], "lanes": args.lanes, "seconds": args.seconds}))


if __name__ == "__main__":
    main()
