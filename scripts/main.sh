#!/usr/bin/env bash
# Sets up, builds and runs the main job. Until the sweep lands (issue 5) that
# is the CLI overview, the parity checks against the reference
# implementations, and a demo of every method inside an encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh
./build/laco --help
./build/laco methods
parity_dir=${LACO_PARITY_DIR:-../shared/parity}
if [[ -d "$parity_dir" ]]; then
  for f in "$parity_dir"/*.safetensors; do
    case "$(basename "$f")" in *.weights.safetensors) continue ;; esac
    ./build/laco parity "$f"
  done
else
  echo "main: no parity folder at $parity_dir (set LACO_PARITY_DIR); skipping parity"
fi
./build/laco demo --threads 2
# LaCo at 1/4 depth vs after the encoder, interleaved, with the FLOP model's prediction (~1 min).
./build/laco run --eval efficiency --preset cpu-small --method laco --layer 1/4 --ratio 2 --vs-external
