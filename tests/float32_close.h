// Comparing two float32 evaluations that round in another order.
//
// Bit equality holds only for the same kernel on the same shape. A batch of 3
// rows and a batch of 1 may take different OpenBLAS kernels (issue 26: the
// TokenPacker window test failed on one x86-64 CPU and passed on another);
// so may a thread count, a CPU's vector width, or a fused against a composed
// path. Such computations are compared within the error float32 arithmetic
// allows, derived here, not with a tolerance tuned on one machine.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>

namespace laco::test {

/// The largest difference two evaluations of one float32 computation may show
/// when they differ only in the order of their roundings: each evaluation of a
/// chain of `depth` rounded operations (a sum of n terms counts n) errs by at
/// most gamma_depth = depth u / (1 - depth u) relative to the magnitude of the
/// terms it combines, u = 2^-24 (Higham, Accuracy and Stability of Numerical
/// Algorithms, 2nd ed., 3.1 and 3.5); the two may err in opposite directions,
/// so the bound is 2 gamma_depth * scale.
double float32_tolerance(int64_t depth, double scale);

/// Whether `actual` and `expected` (same shape, float32) differ nowhere by more
/// than float32_tolerance(depth, scale). `scale` bounds the magnitude of the
/// terms combined; 0 takes the largest |value| of either tensor, at least 1,
/// right for the O(1) inputs of these tests wherever no sum cancels far below
/// its terms. On failure: the largest difference, where, and the bound.
/// Usage: EXPECT_TRUE(test::float32_close(batched[0], alone[0], /*depth=*/32));
::testing::AssertionResult float32_close(const at::Tensor& actual, const at::Tensor& expected, int64_t depth,
                                         double scale = 0);

}  // namespace laco::test
