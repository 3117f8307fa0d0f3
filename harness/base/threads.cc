#include "harness/base/threads.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

#include <fmt/core.h>
#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/interrupt.h"

namespace laco {
namespace {

// OpenBLAS is reached through libblas.so.3, so its controls are looked up at
// run time; they are absent with another BLAS, which then keeps its own defaults.
using SetThreads = void (*)(int);
using GetThreads = int (*)();

SetThreads openblas_set() { return reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")); }
GetThreads openblas_get() { return reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads")); }

}  // namespace

void ensure_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return;
  if (interrupt_signal() != 0) return;  // interrupted already: stop, rather than start again without the signal
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  // exec failed: carry on with the default policy rather than not at all.
}

void set_threads(int n) {
  if (n < 1 || n > kMaxThreads) fail("threads: {} is out of range (allowed: an integer in [1, {}])", n, kMaxThreads);
  torch::set_num_threads(n);
  if (auto set = openblas_set()) set(n);
}

std::string describe_threads() {
  const auto get = openblas_get();
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return fmt::format("intra_op={} blas={} omp_wait_policy={}", torch::get_num_threads(),
                     get ? std::to_string(get()) : std::string("n/a"), policy ? policy : "default");
}

}  // namespace laco
