// Timing: warm-up, repetitions, median and spread. Device peak: the same
// run's measured rate of a large matrix product.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace laco {

/// The median (the mean of the two middle values for an even count; 0 for none).
/// The one median of the project: timings, the report's statistics, duration estimates.
double median(std::vector<double> values);

struct TimingStats {
  std::vector<double> samples_ms;
  double median_ms = 0, min_ms = 0, max_ms = 0, q1_ms = 0, q3_ms = 0;
  static TimingStats from(std::vector<double> samples_ms);
};

/// Runs `fn` `warmup` times untimed, then `reps` times timed (wall clock; on
/// GPU the caller's fn must synchronise).
TimingStats time_repeated(const std::function<void()>& fn, int64_t warmup, int64_t reps);

/// Median GFLOP/s of an n x n float32 matrix product on the CPU with the
/// current threads: the ceiling that achieved rates are compared against.
double measure_matmul_gflops(int64_t n = 2048, int64_t reps = 5);

}  // namespace laco
