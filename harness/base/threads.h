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

/// The most threads a run may ask for: far beyond any machine laco runs on,
/// and far inside `int` (a larger number is a typo, not a setting; a spec's
/// 4294967297 once ran as 1 thread under the key of -t 1).
constexpr int kMaxThreads = 1024;

/// Sets LibTorch's intra-op threads and OpenBLAS's threads to `n` (1..kMaxThreads;
/// an Error otherwise).
void set_threads(int n);

/// For provenance: "intra_op=2 blas=2 omp_wait_policy=PASSIVE".
std::string describe_threads();

}  // namespace laco
