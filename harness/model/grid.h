// Token grids and the layout operations every compressor shares: the grid
// policy for ratios that do not divide the grid, space-to-channel, and the
// r x r group mean.
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace laco {

/// What to do when r does not divide the grid (SigLIP at 384 px: 27 x 27).
enum class GridPolicy {
  kPad,          ///< zero-pad bottom/right to a multiple of r
  kInterpolate,  ///< bilinear resize (align_corners false) to r * ceil(H / r)
  kError,        ///< refuse
};

/// Parses "pad", "interpolate" or "error"; `where` names the source in errors.
GridPolicy parse_grid_policy(const std::string& text, const std::string& where = "grid_policy");
std::string to_string(GridPolicy policy);

/// An H x W token grid; tokens are stored row-major, token (i, j) at i * W + j.
struct Grid {
  int64_t h = 0;
  int64_t w = 0;
  int64_t tokens() const { return h * w; }
  bool operator==(const Grid& o) const { return h == o.h && w == o.w; }
  bool operator!=(const Grid& o) const { return !(*this == o); }
  std::string str() const;
};

/// The grid after r x r merging: ceil(H / r) x ceil(W / r).
Grid compressed_grid(Grid grid, int64_t r);

/// Throws unless `grid` can be compressed by r under `policy`.
void check_grid(Grid grid, int64_t r, GridPolicy policy);

/// Brings x [B, H*W, C] on `grid` to the r-divisible grid r*ceil(H/r) x
/// r*ceil(W/r) as the policy says; returns x itself when r already divides.
torch::Tensor apply_grid_policy(const torch::Tensor& x, Grid grid, int64_t r, GridPolicy policy);

/// [B, H*W, C] -> [B, (H/r)*(W/r), r*r*C]; merged channel (di*r + dj)*C + c
/// (InternVL v2 / Idefics3 order, not torch::pixel_unshuffle's). r divides H, W.
torch::Tensor space_to_channel(const torch::Tensor& x, Grid grid, int64_t r);

/// Mean of the `groups` equal channel groups: [B, N, groups*C] -> [B, N, C].
/// Applied to space_to_channel's output it is r x r average pooling.
torch::Tensor channel_group_mean(const torch::Tensor& s, int64_t groups);

/// [B, H*W, C] <-> [B, C, H, W] for the 2-D torch ops.
torch::Tensor tokens_to_image(const torch::Tensor& x, Grid grid);
torch::Tensor image_to_tokens(const torch::Tensor& x);

}  // namespace laco
