#include "tests/float32_close.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <torch/torch.h>

namespace laco::test {

::testing::AssertionResult float32_close(const at::Tensor& actual, const at::Tensor& expected, int64_t depth,
                                         double scale) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << "shapes differ: " << actual.sizes() << " vs " << expected.sizes();
  if (actual.scalar_type() != torch::kFloat32 || expected.scalar_type() != torch::kFloat32)
    return ::testing::AssertionFailure() << "not float32: " << actual.scalar_type() << ", " << expected.scalar_type();
  if (actual.numel() == 0) return ::testing::AssertionSuccess();
  const auto a = actual.detach().to(torch::kFloat64), e = expected.detach().to(torch::kFloat64);
  if (scale <= 0) scale = std::max({a.abs().max().item<double>(), e.abs().max().item<double>(), 1.0});
  const double bound = float32_tolerance(depth, scale);
  const auto diff = (a - e).abs().flatten();
  // NaN anywhere fails: max() of a NaN is NaN, and NaN <= bound is false.
  const int64_t at_index = diff.argmax().item<int64_t>();
  const double worst = diff.isnan().any().item<bool>() ? std::nan("") : diff[at_index].item<double>();
  if (worst <= bound)
    return ::testing::AssertionSuccess() << fmt::format("max |diff| {:.3g} <= {:.3g}", worst, bound);
  return ::testing::AssertionFailure() << fmt::format(
             "max |diff| {:.3g} at flat index {} ({} vs {}) exceeds the float32 bound {:.3g} (depth {}, scale {:.3g})",
             worst, at_index, a.flatten()[at_index].item<double>(), e.flatten()[at_index].item<double>(), bound,
             depth, scale);
}

}  // namespace laco::test
