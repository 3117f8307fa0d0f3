#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --with-browser --with-tex
scripts/build.sh -DLACO_BUILD_TESTS=ON
# Tests pin their own shapes and seeds; two threads keep them deterministic and fair on 2 cores.
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
ctest --test-dir build --output-on-failure -j "${LACO_TEST_JOBS:-2}"
