// LaCo's fused pass over the tokens: one read of the encoder's hidden states
// writes both what the LaCo MLP consumes (the space-to-channel layout S,
// padded windows zero-filled) and the averaged shortcut A(S) (the mean over
// each window's valid tokens). The LibTorch composition it replaces pads
// (a copy), permutes into S (a second copy) and reduces S again for A.
//
// The kernel body is plain C++ over raw float pointers, with no LibTorch and
// no CUDA header, so that one body serves two launches: the CPU one the
// harness uses (laco_pack_cpu.cc) and a CUDA one (laco_pack.cu, built by nvcc
// when CMake finds it; this project's machines have no GPU, so it is compiled,
// never run here). Sums run over a window's entries in the order di*r + dj.
// LibTorch's reduction picks its own order by vector width and channel count
// (on the CPU measured 2026-12-01 it matched this one bit for bit for channel
// counts that are multiples of 32), so A equals the composition's within
// float32's rounding of r^2 additions, not bit for bit on every CPU; S is a
// copy and always the same bits (tests/test_methods.cc, LacoPack).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define LACO_HOST_DEVICE __host__ __device__
#else
#define LACO_HOST_DEVICE
#endif

namespace laco {

/// Shapes of one pack: x is [batch, h * w, channels] (row-major tokens on an
/// h x w grid, channels contiguous); the output grid is oh x ow =
/// ceil(h / r) x ceil(w / r); S is [batch, oh * ow, r * r * channels] with
/// merged channel (di * r + dj) * channels + c; A is [batch, oh * ow, channels].
struct LacoPackShape {
  int64_t batch = 0, h = 0, w = 0, channels = 0, r = 2, oh = 0, ow = 0;
  LACO_HOST_DEVICE int64_t out_tokens() const { return batch * oh * ow; }
};

/// The kernel body: output token `token` (of out_tokens()), channels
/// [c_begin, c_end); `s` or `a` may be null (not written). The CPU launch
/// takes every channel of a token at once (its inner loops are contiguous);
/// the CUDA launch one channel per thread.
LACO_HOST_DEVICE inline void laco_pack_token(const float* __restrict__ x, float* __restrict__ s,
                                             float* __restrict__ a, const LacoPackShape& shape, int64_t token,
                                             int64_t c_begin, int64_t c_end) {
  const int64_t r = shape.r, channels = shape.channels, per_image = shape.oh * shape.ow;
  const int64_t b = token / per_image, o = token % per_image, oy = o / shape.ow, ox = o % shape.ow;
  // Rows and columns of the window that hold real tokens (the rest is padding).
  const int64_t rows = shape.h - oy * r < r ? shape.h - oy * r : r;
  const int64_t cols = shape.w - ox * r < r ? shape.w - ox * r : r;
  float* a_token = a ? a + token * channels : nullptr;
  if (a_token)
    for (int64_t c = c_begin; c < c_end; ++c) a_token[c] = 0.0f;
  for (int64_t di = 0; di < r; ++di)
    for (int64_t dj = 0; dj < r; ++dj) {
      const bool valid = di < rows && dj < cols;
      const float* src = valid ? x + ((b * shape.h + oy * r + di) * shape.w + ox * r + dj) * channels : nullptr;
      if (s) {
        float* dst = s + (token * r * r + di * r + dj) * channels;
        if (valid)
          for (int64_t c = c_begin; c < c_end; ++c) dst[c] = src[c];
        else  // zero padding
          for (int64_t c = c_begin; c < c_end; ++c) dst[c] = 0.0f;
      }
      // Padding is left out of the mean (adding its zeros would not change the sum either).
      if (a_token && valid)
        for (int64_t c = c_begin; c < c_end; ++c) a_token[c] += src[c];
    }
  if (a_token) {
    const float count = static_cast<float>(rows * cols);
    for (int64_t c = c_begin; c < c_end; ++c) a_token[c] /= count;
  }
}

/// The shape of a pack of x [batch, h * w, channels] by r.
inline LacoPackShape laco_pack_shape(int64_t batch, int64_t h, int64_t w, int64_t channels, int64_t r) {
  LacoPackShape s;
  s.batch = batch;
  s.h = h;
  s.w = w;
  s.channels = channels;
  s.r = r;
  s.oh = (h + r - 1) / r;
  s.ow = (w + r - 1) / r;
  return s;
}

#if defined(LACO_CUDA_KERNELS)
/// The CUDA launch of the same body (laco_pack.cu): device pointers, one
/// thread per (output token, channel), on `stream` (a cudaStream_t; null:
/// the default stream). Returns the cudaError_t of the launch as an int.
int laco_pack_cuda(const float* x, float* s, float* a, const LacoPackShape& shape, void* stream = nullptr);
#endif

}  // namespace laco
