// How far two float32 evaluations of one computation may drift apart.
//
// Bit equality holds only for the same kernel on the same shape. A batch of 3
// rows and a batch of 1 may take different OpenBLAS kernels (issue 26: the
// TokenPacker window test failed on one x86-64 CPU and passed on another);
// so may a thread count, a CPU's vector width, a fused against a composed
// path, or this harness against a reference in another framework. Such
// computations are compared within the error float32 arithmetic allows,
// derived here, not with a tolerance tuned on one machine.
#pragma once

#include <cstdint>

namespace laco {

/// Unit roundoff of float32 (round to nearest): 2^-24.
constexpr double kFloat32Roundoff = 1.0 / 16777216.0;

/// The largest difference two evaluations of one float32 computation may show
/// when they differ only in the order of their roundings: each evaluation of a
/// chain of `depth` rounded operations (a sum of n terms counts n) errs by at
/// most gamma_depth = depth u / (1 - depth u) relative to the magnitude of the
/// terms it combines, u = 2^-24 (Higham, Accuracy and Stability of Numerical
/// Algorithms, 2nd ed., 3.1 and 3.5); the two may err in opposite directions,
/// so the bound is 2 gamma_depth * scale. Infinity once depth u >= 1.
/// Usage: float32_tolerance(/*depth=*/64, /*scale=*/1.0)
double float32_tolerance(int64_t depth, double scale);

}  // namespace laco
