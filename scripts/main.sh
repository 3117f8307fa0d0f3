#!/usr/bin/env bash
# The main job: sets up, builds, checks the baselines against their reference
# implementations, runs the default sweep (sweeps/default.json; what is already
# in the database is skipped, so an interrupted run resumes) and writes the
# report to report/out: the Markdown tables are printed at the end, with the
# path of the HTML page. Usage: scripts/main.sh [extra `laco sweep` flags]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh
parity_dir=${LACO_PARITY_DIR:-../shared/parity}
if [[ -d "$parity_dir" ]]; then
  for f in "$parity_dir"/*.safetensors; do
    case "$(basename "$f")" in *.weights.safetensors) continue ;; esac
    ./build/laco parity "$f" | tail -1
  done
else
  echo "main: no parity folder at $parity_dir (set LACO_PARITY_DIR); skipping parity"
fi
db=${LACO_DB:-results/laco.db}
start=$(date +%s)
status=0
./build/laco sweep sweeps/default.json --db "$db" "$@" || status=$?
echo "main: sweep finished in $(( $(date +%s) - start )) s (exit status $status)"
# The report shows what finished; failed runs appear as dashes, and the status says so.
./build/laco report --db "$db" --out report/out
exit "$status"
