#!/usr/bin/env bash
# The multi-process tests of issue 16 (tests/cluster): a throw-away PostgreSQL primary (and a synchronous
# standby), two `edms serve` nodes with data directories of their own and what they share, all on the
# loopback interface; one node SIGKILLed under load, the standby promoted while people sign. Serial, one
# test at a time: run by `.ci/run` as the stage multi-node after the parallel suite, whose browser tests
# they would starve. Extra arguments go to pytest (e.g. -k failover).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
export EDMS_CLUSTER_TESTS=1
# Without the traceability plugin of pyproject's addopts: build/traceability.md stays the whole suite's report.
exec .venv/bin/python -m pytest -o addopts="-ra --strict-markers" -p no:cacheprovider -n 0 -q -s tests/cluster "$@"
