// Comparing two float32 evaluations that round in another order, within the
// bound harness/base/float32.h derives (not a tolerance tuned on one machine).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

#include "harness/base/float32.h"

namespace laco::test {

using laco::float32_tolerance;

/// Whether `actual` and `expected` (same shape, float32) differ nowhere by more
/// than float32_tolerance(depth, scale). `scale` bounds the magnitude of the
/// terms combined; 0 takes the largest |value| of either tensor, at least 1,
/// right for the O(1) inputs of these tests wherever no sum cancels far below
/// its terms. On failure: the largest difference, where, and the bound.
/// Usage: EXPECT_TRUE(test::float32_close(batched[0], alone[0], /*depth=*/32));
::testing::AssertionResult float32_close(const at::Tensor& actual, const at::Tensor& expected, int64_t depth,
                                         double scale = 0);

}  // namespace laco::test
