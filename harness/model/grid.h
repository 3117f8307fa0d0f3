// Token grids and the layout operations every compressor shares: the grid
// policy for ratios that do not divide the grid, where the real tokens lie
// after it (so that padding never leaks into a token), space-to-channel, and
// the r x r group mean.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace laco {

/// What to do when r does not divide the grid (SigLIP at 384 px: 27 x 27).
enum class GridPolicy {
  kPad,          ///< zero-pad bottom/right to a multiple of r
  kInterpolate,  ///< bilinear resize (align_corners false) to r * ceil(H / r)
  kError,        ///< refuse
};

/// The names users give: pad, interpolate, error.
const std::vector<std::string>& grid_policy_names();
/// Parses one of grid_policy_names(); `where` names the source in errors.
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

/// The r-divisible grid a method works on after the policy, and the part of it
/// that holds real tokens. Under `pad` (when r does not divide) that is the
/// input grid at the top left and the rest is zero padding; otherwise (an
/// r-divisible grid, `interpolate`) every token of `work` is valid.
struct WorkGrid {
  Grid work;
  Grid valid;
  bool padded() const { return valid != work; }
};

/// What apply_grid_policy produces for `grid`: work = r*ceil(H/r) x r*ceil(W/r).
WorkGrid work_grid_for(Grid grid, int64_t r, GridPolicy policy);

/// [work.h * work.w] bool, true at real tokens (row-major on the work grid).
torch::Tensor valid_token_mask(const WorkGrid& grid, const torch::TensorOptions& options = {});

/// [H' * W'] valid-token counts of the r x r windows, in `options`' dtype
/// (floating by default). Every window holds at least one (ceil), r^2 unless padded.
torch::Tensor window_valid_counts(const WorkGrid& grid, int64_t r, const torch::TensorOptions& options = {});

/// The mean of each r x r window over its valid tokens, from the
/// space-to-channel layout s [B, H'*W', r*r*C] of tokens on grid.work whose
/// padded entries are zero: [B, H'*W', C]. Unpadded, exactly
/// channel_group_mean(s, r * r); padded, the window sums over the valid counts.
torch::Tensor window_mean(const torch::Tensor& s, const WorkGrid& grid, int64_t r);

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
