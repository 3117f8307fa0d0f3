#include "harness/model/anyres.h"

#include <cmath>

#include <fmt/ranges.h>
#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {
namespace {

// int(round(x, 7)) of a non-negative Python float: round to 7 decimals,
// then truncate. The two differ from floor(x) only when x lies within
// 5e-8 below an integer (a product like 37 * (48 / 61) * ... rounding just
// under), which the round(.., 7) exists to absorb.
int64_t int_round7(double x) {
  const double f = std::floor(x);
  return static_cast<int64_t>(x - f >= 1.0 - 5e-8 ? f + 1 : f);
}

// Python's float floor division a // b (CPython float_floor_div, b > 0):
// floor((a - fmod(a, b)) / b) with its correction, which can differ from
// floor(a / b) when a / b rounds up to an integer.
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0.0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0.0) return std::copysign(0.0, a / b);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

}  // namespace

AnyresShape anyres_shape(Grid tile, const AnyresLayout& l) {
  if (l.height < 1 || l.width < 1 || l.rows < 1 || l.cols < 1 || tile.h < 1 || tile.w < 1 || l.max_tiles < 1)
    fail("anyres: an image of {}x{} px in {}x{} tiles of {}x{} tokens (anyres_max_{}) is not a layout", l.width,
         l.height, l.cols, l.rows, tile.w, tile.h, l.max_tiles);
  AnyresShape s;
  int64_t h = l.rows * tile.h, w = l.cols * tile.w;
  // unpad_image: compare the aspect ratios, cut the padding's share of the longer side.
  const double original = static_cast<double>(l.width) / static_cast<double>(l.height);
  const double current = static_cast<double>(w) / static_cast<double>(h);
  if (original > current) {
    const int64_t new_h = int_round7(static_cast<double>(l.height) * (static_cast<double>(w) / static_cast<double>(l.width)));
    h -= 2 * ((h - new_h) / 2);
  } else {
    const int64_t new_w = int_round7(static_cast<double>(l.width) * (static_cast<double>(h) / static_cast<double>(l.height)));
    w -= 2 * ((w - new_w) / 2);
  }
  s.unpadded_h = s.h = h;
  s.unpadded_w = s.w = w;
  // anyres_max_N: sqrt(h * w / (N * tile_h^2)); transformers squares the tile's height (its grids are square).
  const double ratio = std::sqrt(static_cast<double>(h * w) / static_cast<double>(l.max_tiles * tile.h * tile.h));
  if (ratio > 1.1) {
    s.h = static_cast<int64_t>(py_floordiv(static_cast<double>(h), ratio));
    s.w = static_cast<int64_t>(py_floordiv(static_cast<double>(w), ratio));
  }
  return s;
}

int64_t anyres_tokens(Grid tile, const AnyresLayout& layout, bool newline) {
  const AnyresShape s = anyres_shape(tile, layout);
  return tile.tokens() + s.h * (s.w + (newline ? 1 : 0));
}

torch::Tensor pack_anyres(const torch::Tensor& crops, Grid tile, const AnyresLayout& l, const torch::Tensor& newline) {
  const AnyresShape s = anyres_shape(tile, l);
  if (crops.dim() != 3 || crops.size(0) != 1 + l.rows * l.cols || crops.size(1) != tile.tokens())
    fail("anyres: features of shape [{}] are not 1 + {} x {} crops of {}x{} tokens", fmt::join(crops.sizes(), ", "), l.rows, l.cols,
         tile.h, tile.w);
  const int64_t d = crops.size(2);
  // [rows, cols, th, tw, D] -> [D, rows, th, cols, tw] -> [D, rows * th, cols * tw]
  auto g = crops.narrow(0, 1, l.rows * l.cols)
               .reshape({l.rows, l.cols, tile.h, tile.w, d})
               .permute({4, 0, 2, 1, 3})
               .reshape({d, l.rows * tile.h, l.cols * tile.w});
  const int64_t cut_h = (g.size(1) - s.unpadded_h) / 2, cut_w = (g.size(2) - s.unpadded_w) / 2;
  g = g.narrow(1, cut_h, s.unpadded_h).narrow(2, cut_w, s.unpadded_w);
  if (s.reduced())
    g = torch::nn::functional::interpolate(
            g.unsqueeze(0),
            torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{s.h, s.w}).mode(torch::kBilinear).align_corners(false))
            .squeeze(0);
  if (newline.defined()) {
    if (newline.dim() != 1 || newline.size(0) != d)
      fail("anyres: image_newline has shape [{}], the features width {}", fmt::join(newline.sizes(), ", "), d);
    g = torch::cat({g, newline.to(g.dtype()).view({d, 1, 1}).expand({d, s.h, 1})}, 2);
  }
  return torch::cat({crops[0], g.flatten(1, 2).transpose(0, 1)}, 0);
}

}  // namespace laco
