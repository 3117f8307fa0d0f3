#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace laco {
namespace {

constexpr uint64_t kSeed = 0x4C41434F;  // "LACO": every report draws the same resamples

// An index in [0, n): mt19937_64's output is fixed by the standard; the
// modulo bias (n / 2^64) is far below anything a table prints.
size_t draw(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(rng() % n); }

Interval percentiles(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  const auto lo = static_cast<size_t>(std::floor(0.025 * static_cast<double>(n)));
  const auto hi = std::min(n - 1, static_cast<size_t>(std::ceil(0.975 * static_cast<double>(n))) - 1);
  return {values[lo], values[hi], 0.95};
}

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

double accuracy_percent(const SeedAnswers& seed, AccuracyKind kind) {
  std::vector<std::pair<double, double>> strata;
  for (const auto& s : seed)
    strata.emplace_back(static_cast<double>(std::count(s.begin(), s.end(), true)), static_cast<double>(s.size()));
  return summarise(strata, kind);
}

Interval accuracy_interval(const std::vector<SeedAnswers>& seeds, AccuracyKind kind, int resamples) {
  if (seeds.empty()) return {};
  std::mt19937_64 rng(kSeed);
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
  std::mt19937_64 rng(kSeed + 1);
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
  int best = 1;
  for (int r = 1; 2 * r <= n + 1; ++r)
    if (1 - 2 * cdf[static_cast<size_t>(r - 1)] >= 0.95) best = r;
  const double coverage = std::max(0.0, 1 - 2 * cdf[static_cast<size_t>(best - 1)]);
  return {values[static_cast<size_t>(best - 1)], values[static_cast<size_t>(n - best)], std::min(coverage, 1.0)};
}

Interval median_ratio_interval(const std::vector<double>& num, const std::vector<double>& den, int resamples) {
  if (num.empty() || den.empty()) return {0, 0, 0};
  std::mt19937_64 rng(kSeed + 2);
  std::vector<double> ratios, a(num.size()), b(den.size());
  ratios.reserve(static_cast<size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (auto& v : a) v = num[draw(rng, num.size())];
    for (auto& v : b) v = den[draw(rng, den.size())];
    const double d = median(b);
    if (d != 0) ratios.push_back(median(a) / d);
  }
  if (ratios.empty()) return {0, 0, 0};
  return percentiles(std::move(ratios));
}

namespace {

// The rank statistics both tests take: mid-ranks (1-based; tied values share
// the mean of their ranks) summed over the flagged values, and the tie
// correction, sum of t^3 - t over each group of t equal values.
struct RankSum {
  double flagged = 0, tie_term = 0;
  bool ties = false;
};

RankSum rank_sum(std::vector<std::pair<double, bool>> values) {
  std::sort(values.begin(), values.end());
  RankSum r;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j < values.size() && values[j].first == values[i].first) ++j;
    const double mid = 0.5 * static_cast<double>(i + 1 + j);  // mid-rank of positions i+1..j
    const double t = static_cast<double>(j - i);
    if (t > 1) r.ties = true;
    r.tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k)
      if (values[k].second) r.flagged += mid;
    i = j;
  }
  return r;
}

// Two-sided p-value of `statistic` from its exact null distribution:
// counts[k] the equally likely outcomes that give k.
double exact_two_sided_p(const std::vector<double>& counts, double statistic) {
  double total = 0, below = 0, above = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    total += counts[k];
    if (static_cast<double>(k) <= statistic) below += counts[k];
    if (static_cast<double>(k) >= statistic) above += counts[k];
  }
  return std::min(1.0, 2 * std::min(below, above) / total);
}

// Two-sided p-value of the normal approximation, continuity-corrected.
double normal_two_sided_p(double statistic, double mean, double var) {
  if (var <= 0) return 1;
  const double z = (std::fabs(statistic - mean) - 0.5) / std::sqrt(var);
  return std::min(1.0, std::erfc(std::max(0.0, z) / std::sqrt(2.0)));
}

}  // namespace

double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return 1;
  std::vector<std::pair<double, bool>> all;  // value, from a
  for (double v : a) all.emplace_back(v, true);
  for (double v : b) all.emplace_back(v, false);
  const RankSum r = rank_sum(std::move(all));
  const double u = r.flagged - static_cast<double>(n * (n + 1)) / 2;
  const double nm = static_cast<double>(n * m);
  if (!r.ties && n <= 20 && m <= 20) {
    // f[i][j][k]: orderings of i a's and j b's with U = k; P(U <= k) by counting.
    const size_t max_u = n * m;
    std::vector<std::vector<std::vector<double>>> f(n + 1, std::vector<std::vector<double>>(m + 1));
    for (size_t i = 0; i <= n; ++i)
      for (size_t j = 0; j <= m; ++j) {
        f[i][j].assign(max_u + 1, 0);
        if (i == 0 || j == 0) {
          f[i][j][0] = 1;
          continue;
        }
        for (size_t k = 0; k <= i * j; ++k)
          f[i][j][k] = (k >= j ? f[i - 1][j][k - j] : 0) + f[i][j - 1][k];  // the largest value is an a, or a b
      }
    return exact_two_sided_p(f[n][m], u);
  }
  const double nn = static_cast<double>(n + m);
  return normal_two_sided_p(u, nm / 2, nm / 12 * ((nn + 1) - r.tie_term / (nn * (nn - 1))));
}

namespace {

// Counts of the signed-rank statistic T+ under the null: subsets of {1..n}
// by their sum (2^n in all), as doubles (n <= 60 keeps them exact enough).
std::vector<double> signed_rank_counts(int n) {
  std::vector<double> c(static_cast<size_t>(n * (n + 1) / 2) + 1, 0.0);
  c[0] = 1;
  for (int k = 1; k <= n; ++k)
    for (int s = n * (n + 1) / 2; s >= k; --s) c[static_cast<size_t>(s)] += c[static_cast<size_t>(s - k)];
  return c;
}

}  // namespace

double wilcoxon_signed_rank_p(const std::vector<double>& differences) {
  std::vector<std::pair<double, bool>> d;  // |difference|, positive
  for (double v : differences)
    if (v != 0 && std::isfinite(v)) d.emplace_back(std::fabs(v), v > 0);
  const int n = static_cast<int>(d.size());
  if (n == 0) return 1;
  const RankSum r = rank_sum(std::move(d));  // T+: the ranks of the positive differences
  const double nn = static_cast<double>(n);
  if (!r.ties && n <= 30) return exact_two_sided_p(signed_rank_counts(n), r.flagged);
  return normal_two_sided_p(r.flagged, nn * (nn + 1) / 4, nn * (nn + 1) * (2 * nn + 1) / 24 - r.tie_term / 48);
}

PairedRatio paired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  PairedRatio out;
  std::vector<double> logs;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] > 0 && b[i] > 0 && std::isfinite(a[i]) && std::isfinite(b[i])) logs.push_back(std::log(a[i] / b[i]));
  const int n = static_cast<int>(logs.size());
  out.pairs = n;
  if (n == 0) {
    out.interval = {0, 0, 0};
    return out;
  }
  // Walsh averages (x_i + x_j) / 2, i <= j: their median estimates the
  // log ratio's centre; their order statistics bound it.
  std::vector<double> walsh;
  walsh.reserve(static_cast<size_t>(n * (n + 1) / 2));
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j) walsh.push_back(0.5 * (logs[static_cast<size_t>(i)] + logs[static_cast<size_t>(j)]));
  std::sort(walsh.begin(), walsh.end());
  const size_t m = walsh.size();
  out.ratio = std::exp(m % 2 ? walsh[m / 2] : 0.5 * (walsh[m / 2 - 1] + walsh[m / 2]));
  // [W_(k), W_(M+1-k)] covers the centre with 1 - 2 P(T+ <= k - 1): the
  // null distribution counted exactly up to 60 pairs, normal beyond.
  std::vector<double> cdf(m + 1);
  if (n <= 60) {
    const auto counts = signed_rank_counts(n);
    double total = 0, acc = 0;
    for (double c : counts) total += c;
    for (size_t t = 0; t < cdf.size(); ++t) cdf[t] = (acc += counts[t]) / total;
  } else {
    const double nn = static_cast<double>(n), mean = nn * (nn + 1) / 4;
    const double sd = std::sqrt(nn * (nn + 1) * (2 * nn + 1) / 24);
    for (size_t t = 0; t < cdf.size(); ++t)
      cdf[t] = 0.5 * std::erfc(-(static_cast<double>(t) + 0.5 - mean) / (sd * std::sqrt(2.0)));
  }
  size_t best = 1;
  for (size_t k = 1; 2 * k <= m + 1; ++k)
    if (1 - 2 * cdf[k - 1] >= 0.95) best = k;
  const double coverage = std::clamp(1 - 2 * cdf[best - 1], 0.0, 1.0);
  out.interval = {std::exp(walsh[best - 1]), std::exp(walsh[m - best]), coverage};
  out.p = wilcoxon_signed_rank_p(logs);
  return out;
}

}  // namespace laco
