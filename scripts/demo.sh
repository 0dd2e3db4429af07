#!/usr/bin/env bash
# README command 1: from a fresh clone, set up a virtual environment, initialise a SQLite database with
# demo users, and serve edms on http://127.0.0.1:5000 (Ctrl+C to stop).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
.venv/bin/edms init
.venv/bin/edms demo
exec .venv/bin/edms serve --host "${EDMS_HOST:-127.0.0.1}" --port "${EDMS_PORT:-5000}"
