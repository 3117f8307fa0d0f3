#include "evals/measure.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {
namespace {

// Linear interpolation between order statistics (numpy's default).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return quantile(values, 0.5);
}

TimingStats TimingStats::from(std::vector<double> samples) {
  if (samples.empty()) fail("timing: no samples");
  TimingStats s;
  s.samples_ms = samples;
  std::sort(samples.begin(), samples.end());
  s.min_ms = samples.front();
  s.max_ms = samples.back();
  s.median_ms = quantile(samples, 0.5);
  s.q1_ms = quantile(samples, 0.25);
  s.q3_ms = quantile(samples, 0.75);
  return s;
}

TimingStats time_repeated(const std::function<void()>& fn, int64_t warmup, int64_t reps) {
  if (reps < 1) fail("timing: reps must be >= 1, got {}", reps);
  for (int64_t i = 0; i < warmup; ++i) fn();
  std::vector<double> samples;
  for (int64_t i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return TimingStats::from(samples);
}

double measure_matmul_gflops(int64_t n, int64_t reps) {
  torch::NoGradGuard no_grad;
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto c = torch::empty({n, n});
  const auto stats = time_repeated([&] { torch::mm_out(c, a, b); }, 1, reps);
  return 2.0 * static_cast<double>(n) * n * n / (stats.median_ms * 1e-3) / 1e9;
}

}  // namespace laco
