#include "harness/image/resize.h"

#include <cmath>

#include "harness/base/error.h"

// Compiled with -ffp-contract=off (CMakeLists.txt): the taps must round as
// Pillow's, which Debian builds for baseline x86-64 (no FMA), so no multiply
// and add may fuse here either, whatever -march a build adds.

namespace laco {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS: 8 bits of result, 2 for overshoot

// Pillow's bicubic_filter, a = -0.5, term for term (the order of the operations is the rounding).
double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// The taps of one pass: output pixel i reads `count[i]` inputs from `first[i]`
// with the fixed-point weights at weights[i * ksize ...].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box (0, in_size).
Taps bicubic_taps(int64_t in_size, int64_t out_size) {
  // The box reaches C as floats (_imaging.c parses "(ffff)"), so the input size is a float here too.
  const float in0 = 0.0f, in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / static_cast<double>(out_size);
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;  // BICUBIC's support is 2
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(static_cast<size_t>(out_size));
  t.count.resize(static_cast<size_t>(out_size));
  t.weights.assign(static_cast<size_t>(out_size) * static_cast<size_t>(t.ksize), 0);
  std::vector<double> k(static_cast<size_t>(t.ksize));
  const double ss = 1.0 / filterscale;
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (static_cast<double>(xx) + 0.5) * scale;
    double ww = 0.0;
    int xmin = static_cast<int>(center - support + 0.5);  // C's (int): toward zero
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = static_cast<int>(in_size);
    xmax -= xmin;
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic((x + xmin - center + 0.5) * ss);
      k[static_cast<size_t>(x)] = w;
      ww += w;
    }
    if (ww != 0.0)
      for (int x = 0; x < xmax; ++x) k[static_cast<size_t>(x)] /= ww;
    int32_t* fixed = &t.weights[static_cast<size_t>(xx) * static_cast<size_t>(t.ksize)];
    for (int x = 0; x < xmax; ++x) {
      const double v = k[static_cast<size_t>(x)] * (1 << kPrecisionBits);
      fixed[x] = static_cast<int32_t>(k[static_cast<size_t>(x)] < 0 ? -0.5 + v : 0.5 + v);
    }
    t.first[static_cast<size_t>(xx)] = xmin;
    t.count[static_cast<size_t>(xx)] = xmax;
  }
  return t;
}

// Pillow's clip8: the sum's integer part (an arithmetic shift: floor), clipped to a byte.
inline uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

// Rows [row0, row0 + rows) of `in` resampled horizontally to `out_width`.
Image horizontal(const Image& in, int64_t row0, int64_t rows, int64_t out_width, const Taps& t) {
  Image out;
  out.width = out_width;
  out.height = rows;
  out.rgb.resize(static_cast<size_t>(3 * out_width * rows));
  for (int64_t y = 0; y < rows; ++y) {
    const uint8_t* src = in.rgb.data() + 3 * (row0 + y) * in.width;
    uint8_t* dst = out.rgb.data() + 3 * y * out_width;
    for (int64_t xx = 0; xx < out_width; ++xx) {
      const int xmin = t.first[static_cast<size_t>(xx)], n = t.count[static_cast<size_t>(xx)];
      const int32_t* k = &t.weights[static_cast<size_t>(xx) * static_cast<size_t>(t.ksize)];
      int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      const uint8_t* p = src + 3 * xmin;
      for (int x = 0; x < n; ++x) {
        s0 += p[3 * x] * k[x];
        s1 += p[3 * x + 1] * k[x];
        s2 += p[3 * x + 2] * k[x];
      }
      dst[3 * xx] = clip8(s0);
      dst[3 * xx + 1] = clip8(s1);
      dst[3 * xx + 2] = clip8(s2);
    }
  }
  return out;
}

// `in` resampled vertically to `out_height`, its taps' first rows less `row0`.
Image vertical(const Image& in, int64_t row0, int64_t out_height, const Taps& t) {
  Image out;
  out.width = in.width;
  out.height = out_height;
  const int64_t stride = 3 * in.width;
  out.rgb.resize(static_cast<size_t>(stride * out_height));
  std::vector<int32_t> sums(static_cast<size_t>(stride));
  for (int64_t yy = 0; yy < out_height; ++yy) {
    const int ymin = t.first[static_cast<size_t>(yy)] - static_cast<int>(row0), n = t.count[static_cast<size_t>(yy)];
    const int32_t* k = &t.weights[static_cast<size_t>(yy) * static_cast<size_t>(t.ksize)];
    std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
    // Row by row over the taps: the same integer sums as Pillow's column loop (integer addition is exact).
    for (int y = 0; y < n; ++y) {
      const uint8_t* src = in.rgb.data() + (ymin + y) * stride;
      const int32_t w = k[y];
      for (int64_t i = 0; i < stride; ++i) sums[static_cast<size_t>(i)] += src[i] * w;
    }
    uint8_t* dst = out.rgb.data() + yy * stride;
    for (int64_t i = 0; i < stride; ++i) dst[i] = clip8(sums[static_cast<size_t>(i)]);
  }
  return out;
}

}  // namespace

Image resize_bicubic(const Image& in, int64_t width, int64_t height) {
  if (width < 1 || height < 1 || width > INT32_MAX || height > INT32_MAX)
    fail("resize_bicubic: cannot resize to {} x {} (allowed: 1 to {} a side)", width, height, INT32_MAX);
  if (in.width < 1 || in.height < 1 || in.width > INT32_MAX || in.height > INT32_MAX ||
      in.rgb.size() != static_cast<size_t>(3 * in.width * in.height))
    fail("resize_bicubic: the input is not an RGB8 image of {} x {} ({} bytes)", in.width, in.height, in.rgb.size());
  if (width == in.width && height == in.height) return in;  // Pillow returns a copy
  const Taps horiz = bicubic_taps(in.width, width), vert = bicubic_taps(in.height, height);
  const bool need_horizontal = width != in.width, need_vertical = height != in.height;
  if (!need_horizontal) return vertical(in, 0, height, vert);
  // Only the rows the vertical pass reads are resampled horizontally (Pillow's ybox_first, ybox_last).
  const int64_t first = vert.first.front(), last = vert.first.back() + vert.count.back();
  const int64_t row0 = need_vertical ? first : 0, rows = need_vertical ? last - first : in.height;
  Image tmp = horizontal(in, row0, rows, width, horiz);
  if (!need_vertical) return tmp;
  return vertical(tmp, row0, height, vert);
}

}  // namespace laco
