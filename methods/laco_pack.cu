// The CUDA launch of LaCo's fused pack: the kernel body of laco_pack.h, one
// thread per (output token, channel), so that neighbouring threads read and
// write neighbouring channels. Built by nvcc when CMake finds it
// (LACO_CUDA_KERNELS); this project's machines have no GPU, so it is
// compiled here and in CI, never run.
#include <cuda_runtime.h>

#include "methods/laco_pack.h"

namespace laco {
namespace {

__global__ void laco_pack_kernel(const float* __restrict__ x, float* __restrict__ s, float* __restrict__ a,
                                 LacoPackShape shape) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= shape.out_tokens() * shape.channels) return;
  const int64_t token = i / shape.channels, c = i % shape.channels;
  laco_pack_token(x, s, a, shape, token, c, c + 1);
}

}  // namespace

int laco_pack_cuda(const float* x, float* s, float* a, const LacoPackShape& shape, void* stream) {
  const int64_t n = shape.out_tokens() * shape.channels;
  if (n == 0) return static_cast<int>(cudaSuccess);
  constexpr int kThreads = 256;
  const auto blocks = static_cast<unsigned>((n + kThreads - 1) / kThreads);
  laco_pack_kernel<<<blocks, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, s, a, shape);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace laco
