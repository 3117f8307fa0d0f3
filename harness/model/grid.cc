#include "harness/model/grid.h"

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {

GridPolicy parse_grid_policy(const std::string& text, const std::string& where) {
  if (text == "pad") return GridPolicy::kPad;
  if (text == "interpolate") return GridPolicy::kInterpolate;
  if (text == "error") return GridPolicy::kError;
  fail("{}: unknown grid policy '{}' (allowed: pad, interpolate, error)", where, text);
}

std::string to_string(GridPolicy policy) {
  switch (policy) {
    case GridPolicy::kPad: return "pad";
    case GridPolicy::kInterpolate: return "interpolate";
    case GridPolicy::kError: return "error";
  }
  return "?";
}

std::string Grid::str() const { return fmt::format("{}x{}", h, w); }

Grid compressed_grid(Grid grid, int64_t r) {
  return {(grid.h + r - 1) / r, (grid.w + r - 1) / r};
}

void check_grid(Grid grid, int64_t r, GridPolicy policy) {
  if (grid.h < 1 || grid.w < 1) fail("grid {} is empty", grid.str());
  if (policy == GridPolicy::kError && (grid.h % r != 0 || grid.w % r != 0)) {
    fail("grid {} is not divisible by ratio {} and grid_policy is 'error' "
         "(use 'pad' or 'interpolate' for such grids)",
         grid.str(), r);
  }
}

torch::Tensor apply_grid_policy(const torch::Tensor& x, Grid grid, int64_t r, GridPolicy policy) {
  check_grid(grid, r, policy);
  const Grid target{compressed_grid(grid, r).h * r, compressed_grid(grid, r).w * r};
  if (target == grid) return x;
  if (policy == GridPolicy::kPad) {
    auto img = x.view({x.size(0), grid.h, grid.w, x.size(2)});
    // constant_pad_nd pads from the last dimension backwards: C, then W, then H.
    img = torch::constant_pad_nd(img, {0, 0, 0, target.w - grid.w, 0, target.h - grid.h}, 0.0);
    return img.reshape({x.size(0), target.tokens(), x.size(2)});
  }
  namespace F = torch::nn::functional;
  auto img = F::interpolate(tokens_to_image(x, grid),
                            F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{target.h, target.w})
                                .mode(torch::kBilinear)
                                .align_corners(false));
  return image_to_tokens(img);
}

torch::Tensor space_to_channel(const torch::Tensor& x, Grid grid, int64_t r) {
  const int64_t b = x.size(0), c = x.size(2);
  const int64_t h2 = grid.h / r, w2 = grid.w / r;
  return x.reshape({b, h2, r, w2, r, c})
      .permute({0, 1, 3, 2, 4, 5})  // [B, H', W', di, dj, C]
      .reshape({b, h2 * w2, r * r * c});
}

torch::Tensor channel_group_mean(const torch::Tensor& s, int64_t groups) {
  const int64_t c = s.size(2) / groups;
  return s.view({s.size(0), s.size(1), groups, c}).mean(2);
}

torch::Tensor tokens_to_image(const torch::Tensor& x, Grid grid) {
  return x.transpose(1, 2).reshape({x.size(0), x.size(2), grid.h, grid.w});
}

torch::Tensor image_to_tokens(const torch::Tensor& x) {
  return x.flatten(2).transpose(1, 2).contiguous();
}

}  // namespace laco
