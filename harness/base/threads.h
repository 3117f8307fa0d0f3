// Thread settings. On Debian, LibTorch runs its own ops on an OpenMP pool and
// matrix products on OpenBLAS's separate pthread pool. With OpenMP's default
// spin-waiting the two pools fight for the cores (measured on 2 cores: a
// 27x27-grid encoder forward 2-5x slower and far noisier), so laco runs with
// OMP_WAIT_POLICY=PASSIVE and sets both pools to the same explicit count.
#pragma once

#include <string>

namespace laco {

/// Re-executes the program with OMP_WAIT_POLICY=PASSIVE when the variable is
/// unset (libgomp reads it only at load time). Call first thing in main().
void ensure_passive_openmp(char** argv);

/// Sets LibTorch's intra-op threads and OpenBLAS's threads to `n` (> 0).
void set_threads(int n);

/// For provenance: "intra_op=2 blas=2 omp_wait_policy=PASSIVE".
std::string describe_threads();

}  // namespace laco
