#!/usr/bin/env bash
# Every benchmark, one after another, each printing JSON lines (a measured figure and the raw operation it is
# held against, taken in the same run). Usage: benches/run.sh [--engine sqlite|postgresql] [--quick]
# Writes benches/results/<UTC time>.jsonl as well as printing. Not part of .ci/run: figures need a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
ENGINE=sqlite
QUICK=0
while [ $# -gt 0 ]; do
  case $1 in
    --engine) ENGINE=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
export BENCH_ENGINE=$ENGINE BENCH_QUICK=$QUICK
mkdir -p benches/results
OUT="benches/results/$(date -u +%Y%m%dT%H%M%SZ)-$ENGINE.jsonl"
run() {  # run NAME COMMAND...: one benchmark, its JSON lines kept
  echo "== $1" >&2
  shift
  "$@" | tee -a "$OUT"
}
run signatures "$PYTHON" benches/bench_signatures.py --signatures "$([ "$QUICK" = 1 ] && echo 30 || echo 300)" --kdf testing
run audit-verify "$PYTHON" benches/bench_audit_verify.py --events "$([ "$QUICK" = 1 ] && echo 10000 || echo 100000)"
run export "$PYTHON" benches/bench_export.py --documents "$([ "$QUICK" = 1 ] && echo 5 || echo 20)"
run reads "$PYTHON" benches/bench_reads.py --engine "$ENGINE" --seconds "$([ "$QUICK" = 1 ] && echo 3 || echo 10)"
run api-read-cpu "$PYTHON" benches/bench_api_read_cpu.py --engine "$ENGINE" --requests "$([ "$QUICK" = 1 ] && echo 1000 || echo 3000)"
run case-page "$PYTHON" benches/bench_case_page.py --engine "$ENGINE" --requests "$([ "$QUICK" = 1 ] && echo 100 || echo 300)" --profile
run document-page "$PYTHON" benches/bench_document_page.py --requests "$([ "$QUICK" = 1 ] && echo 100 || echo 300)" --rounds 5 --profile
run verify-archive "$PYTHON" benches/bench_verify_archive.py $([ "$QUICK" = 1 ] && echo --quick)
run cms-reader "$PYTHON" benches/bench_cms_reader.py --signatures "$([ "$QUICK" = 1 ] && echo 20 || echo 50)"
run verify-workers "$PYTHON" benches/bench_verify_workers.py --rounds "$([ "$QUICK" = 1 ] && echo 1 || echo 3)"
run renditions "$PYTHON" benches/bench_renditions.py --repeat "$([ "$QUICK" = 1 ] && echo 3 || echo 10)"
run pades "$PYTHON" benches/bench_pades.py --signatures "$([ "$QUICK" = 1 ] && echo 3 || echo 10)"
run hsm "$PYTHON" benches/bench_hsm.py --repeat "$([ "$QUICK" = 1 ] && echo 40 || echo 400)"
run blobstores "$PYTHON" benches/bench_blobstores.py --blobs "$([ "$QUICK" = 1 ] && echo 10 || echo 50)"
run sessions "$PYTHON" benches/bench_sessions.py --sessions 2000 --requests "$([ "$QUICK" = 1 ] && echo 1000 || echo 10000)"
run cluster "$PYTHON" benches/bench_cluster.py --seconds "$([ "$QUICK" = 1 ] && echo 20 || echo 90)"  # PostgreSQL always
run scale "$PYTHON" benches/bench_scale.py $([ "$QUICK" = 1 ] && echo "--small 100 --large 1000 --requests 10" || echo "--small 100 --large 10000 --requests 40") --engine "$ENGINE"
run jobs "$PYTHON" benches/bench_jobs.py --jobs "$([ "$QUICK" = 1 ] && echo 50 || echo 300)"
run job-progress "$PYTHON" benches/bench_job_progress.py --documents "$([ "$QUICK" = 1 ] && echo 3 || echo 10)"
run inspector-serial "$PYTHON" benches/bench_inspector_serial.py --requests "$([ "$QUICK" = 1 ] && echo 10 || echo 40)"  # SQLite
echo "results: $OUT" >&2
