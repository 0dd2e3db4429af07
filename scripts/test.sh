#!/usr/bin/env bash
# README command 2: install everything the tests need (scripts/setup.sh: PostgreSQL, Chromium, fonts and
# openssl from Debian's packages when missing; Python packages in .venv) and run the whole suite: unit,
# integration, PostgreSQL and browser. Extra arguments go to pytest. Ends by writing build/traceability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
WORKERS=${EDMS_TEST_WORKERS:-$(nproc)}
# The slowest tests are listed at the end: the suite must stay well inside CI's time (.ci/run).
exec .venv/bin/python -m pytest -n "$WORKERS" --dist loadfile --durations=30 "$@"
