#!/usr/bin/env bash
# Configures and builds laco-bench in ./build (Release, Ninja). Usage: scripts/build.sh [extra cmake args]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
# Two jobs: each LibTorch translation unit takes ~1.5 GiB and a core.
cmake --build build -j "${LACO_BUILD_JOBS:-2}"
