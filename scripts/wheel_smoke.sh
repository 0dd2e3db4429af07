#!/usr/bin/env bash
# The installable package, end to end: build the wheel from a clean copy of the sources, install it in a
# fresh virtual environment in a temporary directory outside the checkout, and there run `edms init`,
# `edms demo` and `edms serve` on a free loopback port; the sign-in page must answer in English and in
# Japanese, with its style sheet. Dependencies come from pip's usual indexes (and cache).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# pip, without this machine's notes on index folders it skips.
pip() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

# A copy of the sources, so that no earlier build output (build/lib) can slip into the wheel.
mkdir "$work/src"
tar -c --exclude=__pycache__ --exclude='*.pyc' pyproject.toml setup.py README.md edms templates forms migrations \
  config docs | tar -x -C "$work/src"
pip "$PYTHON" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
"$PYTHON" -m venv "$work/venv"
pip "$work/venv/bin/python" -m pip install --quiet "$work"/dist/edms-*.whl
edms="$work/venv/bin/edms"

mkdir "$work/site"
cd "$work/site"
unset PYTHONPATH EDMS_DATABASE_URL EDMS_CONFIG_DIR EDMS_FORMS_DIR
export EDMS_ENV=development EDMS_DATA_DIR="$work/site/data"
"$edms" init
"$edms" demo > demo.log
grep -q "Demo OOS cases" demo.log || { cat demo.log; echo "wheel smoke: edms demo opened no cases" >&2; exit 1; }

port=$("$work/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$edms" serve --host 127.0.0.1 --port "$port" > serve.log 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 60); do
  curl -fsS -o /dev/null "$base/login" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat serve.log; echo "wheel smoke: edms serve stopped" >&2; exit 1; }
  sleep 0.5
done

expect() {  # expect URL TEXT [curl options...]: the page answers 200 and contains TEXT
  local url=$1 text=$2
  shift 2
  local status
  status=$(curl -sS -o page.html -w '%{http_code}' "$@" "$url")
  [ "$status" = 200 ] || { echo "wheel smoke: $url answered $status" >&2; exit 1; }
  grep -qF "$text" page.html || { echo "wheel smoke: $url does not contain '$text'" >&2; exit 1; }
}
expect "$base/login" "Sign in"
expect "$base/login" "サインイン" -H "Accept-Language: ja"
expect "$base/static/css/edms.css" "{"
echo "wheel smoke: $(basename "$work"/dist/edms-*.whl) installs and serves edms outside the checkout"
