#!/usr/bin/env bash
# The API's contract, tested: a throw-away instance (its own data directory and SQLite database, `edms init`,
# the demo people) is served on a free loopback port; schemathesis runs the OpenAPI document it serves once
# with a bearer token of each role, checking that no answer is a server error and that every status, media
# type and body is the one the document declares; then the server stops and `edms verify` must pass on the
# data the run touched. Exits non-zero on any failure.
#
# Bounded for CI: API_CONTRACT_EXAMPLES examples an operation (25) and API_CONTRACT_SECONDS for all roles
# together (170: each role's coverage phase, every operation, takes ~18 s, and the rest of its share fuzzes;
# with the instance set up and verified, the stage takes 3 to 5 minutes on the shared 2-core
# machine); a run that reaches its share of the time stops there, and passes if nothing failed so far.
# A longer profile outside CI: API_CONTRACT_PROFILE=long (200 examples an operation, an hour).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
bin=$(dirname "$PYTHON")
st=$(realpath "$bin/st")
case ${API_CONTRACT_PROFILE:-ci} in
  ci) examples=${API_CONTRACT_EXAMPLES:-25} seconds=${API_CONTRACT_SECONDS:-170} ;;
  long) examples=${API_CONTRACT_EXAMPLES:-200} seconds=${API_CONTRACT_SECONDS:-3600} ;;
  *) echo "api contract: unknown API_CONTRACT_PROFILE '$API_CONTRACT_PROFILE' (ci or long)" >&2; exit 2 ;;
esac

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

unset EDMS_DATABASE_URL EDMS_CONFIG_DIR
export EDMS_ENV=development EDMS_DATA_DIR="$work/data"
# schemathesis sends requests without credentials on purpose (each a 401): under the production limit the
# shared refused-credentials throttle would answer 429 to most operations and hide their real answers.
export EDMS_LOGIN_RATE_LIMIT="100000 per minute"
"$bin/edms" init > "$work/init.log"
"$bin/edms" demo > "$work/demo.log"

port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin/edms" serve --host 127.0.0.1 --port "$port" > "$work/serve.log" 2>&1 &
server_pid=$!
api="http://127.0.0.1:$port/api/v1"
for _ in $(seq 120); do
  curl -fsS -o /dev/null "$api/openapi.json" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log"; echo "api contract: edms serve stopped" >&2; exit 1; }
  sleep 0.5
done

# One demo person per role (edms/demo.py), each exchanging the demo password for a token, all before the
# runs: the runs themselves exhaust the sign-in rate limit of this client.
users=(kenji.sato akiko.tanaka yuki.mori naoko.ito john.carter daisuke.kato)
password=$("$PYTHON" -c 'from edms.demo import DEMO_PASSWORD; print(DEMO_PASSWORD)')
declare -A tokens
for user in "${users[@]}"; do
  tokens[$user]=$(curl -fsS "$api/auth/token" -H "Content-Type: application/json" \
    -d "$("$PYTHON" -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' "$user" "$password")" \
    | "$PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["token"])')
done
started=$SECONDS
failed=0
runs_left=${#users[@]}
for user in "${users[@]}"; do
  token=${tokens[$user]}
  left=$((seconds - (SECONDS - started)))
  budget=$((left / runs_left))
  runs_left=$((runs_left - 1))
  echo "== api contract: $user, $examples examples an operation, at most $budget s"
  status=0
  # /auth/revoke is left out: it would end the token the rest of the run uses.
  # Run in the instance's directory, where schemathesis leaves its cache (.schemathesis) to be removed.
  (cd "$work" && timeout --signal=INT --kill-after=10 "$budget" "$st" run "$api/openapi.json" --url "$api" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
    --max-examples "$examples" --phases examples,coverage,fuzzing --exclude-path /auth/revoke \
    --generation-database none --request-timeout 60 --no-color) | tee "$work/run.log" || status=$?
  summary=$(grep -E '^=+ .* =+$' "$work/run.log" | tail -1)
  if [ "$status" -eq 124 ] && ! grep -qE 'failure|error' <<< "$summary"; then
    # The time bound ends the run where it is: what ran conformed, the rest waits for the next run.
    echo "api contract: $user's run reached its time bound of $budget s without a failure"
  elif [ "$status" -ne 0 ]; then
    failed=1
  fi
done

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
"$bin/edms" verify || { echo "api contract: edms verify fails on the data the run touched" >&2; exit 1; }
[ "$failed" -eq 0 ] || { echo "api contract: schemathesis found failures (above)" >&2; exit 1; }
echo "api contract: every role's run conforms to the OpenAPI document in $((SECONDS - started)) s"
