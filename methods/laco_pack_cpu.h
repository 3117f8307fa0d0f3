// The CPU launch of the fused pack (methods/laco_pack.h) on LibTorch tensors:
// LaCo's S and A, Pixel-Shuffle's S and avgpool's A all come from it where it
// applies, so that none of the three is timed with a faster kernel than the others.
#pragma once

#include <torch/types.h>

#include "harness/model/grid.h"

namespace laco {

/// Which outputs laco_pack_cpu writes (bit flags).
constexpr int kPackS = 1;  ///< the space-to-channel layout S
constexpr int kPackA = 2;  ///< the window means A

struct LacoPacked {
  torch::Tensor s;  ///< [B, H'*W', r*r*C], padding zero-filled; undefined unless kPackS
  torch::Tensor a;  ///< [B, H'*W', C], the mean of each window's valid tokens; undefined unless kPackA
};

/// Whether the pack computes what the composition would: x float32 on the
/// CPU with no gradient to carry (inference, or an input that requires none:
/// a frozen encoder before the method), and a grid that r divides or that
/// `pad` completes (`interpolate` resizes first: the composition's job).
bool laco_pack_applies(const torch::Tensor& x, Grid grid, int64_t r, GridPolicy policy);

/// x [B, H*W, C] on `grid` (any H, W: windows past the edge are padding) ->
/// S and/or A in one pass, parallel over output tokens on LibTorch's intra-op
/// threads. space_to_channel and window_mean after zero padding: S bit for
/// bit, A within float32 rounding of its r^2 additions (see laco_pack.h).
/// `into`: outputs to write instead of new ones (each must have its shape,
/// float32, contiguous), for callers that reuse buffers (the benchmark, so
/// that it times the pass and not the first touch of fresh pages).
/// Usage: auto p = laco_pack_cpu(x, {27, 27}, 2, kPackS | kPackA); mlp(p.s) + p.a
LacoPacked laco_pack_cpu(const torch::Tensor& x, Grid grid, int64_t r, int outputs = kPackS | kPackA,
                         const LacoPacked& into = {});

}  // namespace laco
