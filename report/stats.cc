#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace laco {
namespace {

constexpr uint64_t kSeed = 0x4C41434F;  // "LACO": every report draws the same resamples

size_t draw(std::mt19937_64& rng, size_t n) { return bootstrap_draw(rng, n); }
Interval percentiles(std::vector<double> values) { return percentile_interval(std::move(values)); }

// Mean of the strata's means, or of all items, from per-stratum (correct, count).
double summarise(const std::vector<std::pair<double, double>>& strata, AccuracyKind kind) {
  double sum = 0, correct = 0, total = 0;
  int used = 0;
  for (const auto& [c, n] : strata) {
    if (n == 0) continue;
    sum += c / n;
    correct += c;
    total += n;
    ++used;
  }
  if (used == 0) return 0;
  return 100.0 * (kind == AccuracyKind::kMeanOfStrata ? sum / used : correct / total);
}

}  // namespace

std::mt19937_64 bootstrap_rng(uint64_t stream) { return std::mt19937_64(kSeed + stream); }

size_t bootstrap_draw(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

Interval percentile_interval(std::vector<double> values) {
  if (values.empty()) return {0, 0, 0};  // no interval
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const auto lo = static_cast<size_t>(std::floor(0.025 * static_cast<double>(n)));
  const auto hi = std::min(n - 1, static_cast<size_t>(std::ceil(0.975 * static_cast<double>(n))) - 1);
  return {values[lo], values[hi], 0.95};
}

double accuracy_percent(const SeedAnswers& seed, AccuracyKind kind) {
  std::vector<std::pair<double, double>> strata;
  for (const auto& s : seed)
    strata.emplace_back(static_cast<double>(std::count(s.begin(), s.end(), true)), static_cast<double>(s.size()));
  return summarise(strata, kind);
}

Interval accuracy_interval(const std::vector<SeedAnswers>& seeds, AccuracyKind kind, int resamples) {
  if (seeds.empty()) return {};
  std::mt19937_64 rng = bootstrap_rng(0);
  std::vector<double> means;
  means.reserve(static_cast<size_t>(resamples));
  std::vector<std::pair<double, double>> strata;
  for (int b = 0; b < resamples; ++b) {
    double sum = 0;
    for (size_t s = 0; s < seeds.size(); ++s) {
      const SeedAnswers& seed = seeds[draw(rng, seeds.size())];
      strata.clear();
      for (const auto& stratum : seed) {
        double correct = 0;
        for (size_t i = 0; i < stratum.size(); ++i) correct += stratum[draw(rng, stratum.size())];
        strata.emplace_back(correct, static_cast<double>(stratum.size()));
      }
      sum += summarise(strata, kind);
    }
    means.push_back(sum / static_cast<double>(seeds.size()));
  }
  return percentiles(std::move(means));
}

Interval paired_difference_interval(const std::vector<PairedSeed>& seeds, AccuracyKind kind, int resamples) {
  if (seeds.empty()) return {};
  std::mt19937_64 rng = bootstrap_rng(1);
  std::vector<double> diffs;
  diffs.reserve(static_cast<size_t>(resamples));
  std::vector<std::pair<double, double>> sa, sb;
  for (int b = 0; b < resamples; ++b) {
    double sum = 0;
    for (size_t s = 0; s < seeds.size(); ++s) {
      const PairedSeed& seed = seeds[draw(rng, seeds.size())];
      sa.clear();
      sb.clear();
      for (size_t k = 0; k < seed.a.size(); ++k) {
        const auto& a = seed.a[k];
        const auto& bb = seed.b[k];
        double ca = 0, cb = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          const size_t j = draw(rng, a.size());  // the same question for both methods
          ca += a[j];
          cb += bb[j];
        }
        sa.emplace_back(ca, static_cast<double>(a.size()));
        sb.emplace_back(cb, static_cast<double>(a.size()));
      }
      sum += summarise(sa, kind) - summarise(sb, kind);
    }
    diffs.push_back(sum / static_cast<double>(seeds.size()));
  }
  return percentiles(std::move(diffs));
}

Interval median_interval(std::vector<double> values) {
  if (values.empty()) return {0, 0, 0};
  std::sort(values.begin(), values.end());
  const int n = static_cast<int>(values.size());
  // P(Bin(n, 1/2) <= k), accumulated.
  std::vector<double> cdf(static_cast<size_t>(n) + 1);
  double term = std::pow(0.5, n), acc = 0;
  for (int k = 0; k <= n; ++k) {
    acc += term;
    cdf[static_cast<size_t>(k)] = acc;
    term = term * static_cast<double>(n - k) / static_cast<double>(k + 1);
  }
  // [x_(r), x_(n+1-r)] (1-based) covers the median with 1 - 2 P(B <= r - 1):
  // the narrowest such interval that reaches 95%, else the widest one.
  return order_statistic_interval(values, cdf);
}

double t_quantile_975(int df) {
  // t(0.975, df) for df = 1..30 (checked against numerical integration of the density).
  static const double kTable[] = {12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851,
                                  2.364624252,  2.306004135, 2.262157163, 2.228138852, 2.200985160, 2.178812830,
                                  2.160368656,  2.144786688, 2.131449546, 2.119905299, 2.109815578, 2.100922040,
                                  2.093024054,  2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
                                  2.059538553,  2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456};
  if (df < 1) return INFINITY;
  if (df <= 30) return kTable[df - 1];
  // Cornish-Fisher expansion around the normal quantile (Abramowitz and Stegun 26.7.5).
  const double z = 1.959963984540054, d = static_cast<double>(df);
  const double z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z;
  return z + (z3 + z) / (4 * d) + (5 * z5 + 16 * z3 + 3 * z) / (96 * d * d) +
         (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * d * d * d);
}

Interval t_interval(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return {0, 0, 0};
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(n);
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  const double half = t_quantile_975(static_cast<int>(n) - 1) * std::sqrt(ss / static_cast<double>(n - 1)) /
                      std::sqrt(static_cast<double>(n));
  return {mean - half, mean + half, kTargetCoverage};
}

}  // namespace laco
