#include "harness/model/grid.h"

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/named.h"

namespace laco {
namespace {

const std::vector<NamedValue<GridPolicy>>& grid_policies() {
  static const std::vector<NamedValue<GridPolicy>> all = {
      {"pad", GridPolicy::kPad}, {"interpolate", GridPolicy::kInterpolate}, {"error", GridPolicy::kError}};
  return all;
}

}  // namespace

const std::vector<std::string>& grid_policy_names() {
  static const std::vector<std::string> names = names_of(grid_policies());
  return names;
}

GridPolicy parse_grid_policy(const std::string& text, const std::string& where) {
  return find_named(grid_policies(), text, "grid policy", where).value;
}

std::string to_string(GridPolicy policy) { return name_of(grid_policies(), policy); }

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
  const Grid target = work_grid_for(grid, r, policy).work;
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

WorkGrid work_grid_for(Grid grid, int64_t r, GridPolicy policy) {
  const Grid out = compressed_grid(grid, r);
  const Grid work{out.h * r, out.w * r};
  // Interpolation resizes real tokens onto the whole work grid: nothing is padding.
  return {work, policy == GridPolicy::kPad ? grid : work};
}

torch::Tensor valid_token_mask(const WorkGrid& grid, const torch::TensorOptions& options) {
  auto mask = torch::zeros({grid.work.h, grid.work.w}, options.dtype(torch::kBool));
  mask.slice(0, 0, grid.valid.h).slice(1, 0, grid.valid.w).fill_(true);
  return mask.view({grid.work.tokens()});
}

torch::Tensor window_valid_counts(const WorkGrid& grid, int64_t r, const torch::TensorOptions& options) {
  // Window i covers rows r*i .. r*i + r - 1, of which min(r, valid.h - r*i) are real.
  const int64_t h2 = grid.work.h / r, w2 = grid.work.w / r;
  auto rows = (grid.valid.h - torch::arange(h2, torch::kLong) * r).clamp(0, r);
  auto cols = (grid.valid.w - torch::arange(w2, torch::kLong) * r).clamp(0, r);
  return (rows.view({h2, 1}) * cols.view({1, w2}))
      .reshape({h2 * w2})
      .to(options.device(), c10::typeMetaToScalarType(options.dtype()));
}

torch::Tensor window_mean(const torch::Tensor& s, const WorkGrid& grid, int64_t r) {
  if (!grid.padded()) return channel_group_mean(s, r * r);
  const int64_t c = s.size(2) / (r * r);
  auto counts = window_valid_counts(grid, r, s.options()).view({1, s.size(1), 1});
  return s.view({s.size(0), s.size(1), r * r, c}).sum(2) / counts;
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
