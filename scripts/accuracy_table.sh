#!/usr/bin/env bash
# The accuracy table of docs/performance.md on SynthVQA `small`: `none`, then the five
# methods at 1/4 depth and after the encoder, r = 2, for each seed given.
# Seeds run as parallel processes with one thread each (on 2 cores this beats
# one process with 2 threads for these small matrices; the thread count is
# recorded with every run). JSON records land in results/accuracy/.
# Usage: scripts/accuracy_table.sh [SEED ...]   (default: 0 1)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(0 1)
mkdir -p results/accuracy
for seed in "${seeds[@]}"; do
  (
    ./build/laco run --eval accuracy --preset small --method none --layer 1 --ratio 2 --seed "$seed" \
      --threads 1 -o json > "results/accuracy/small-none-seed$seed.json"
    ./build/laco run --eval accuracy --preset small --method avgpool,pixel_shuffle,laco,ldpv2,tokenpacker \
      --layer 1/4,1 --ratio 2 --seed "$seed" --threads 1 -o json > "results/accuracy/small-methods-seed$seed.json"
  ) &
done
wait
