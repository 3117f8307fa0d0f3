#include "harness/base/rank_tests.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace laco {

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

// P(S <= t) for t = 0 .. counts.size() - 1, from the counts of equally likely outcomes.
std::vector<double> cdf_of_counts(const std::vector<double>& counts) {
  double total = 0, acc = 0;
  for (double c : counts) total += c;
  std::vector<double> cdf(counts.size());
  for (size_t t = 0; t < cdf.size(); ++t) cdf[t] = (acc += counts[t]) / total;
  return cdf;
}

// The same from the normal approximation, continuity-corrected, for t = 0 .. points - 1.
std::vector<double> normal_cdf(size_t points, double mean, double sd) {
  std::vector<double> cdf(points);
  for (size_t t = 0; t < points; ++t)
    cdf[t] = 0.5 * std::erfc(-(static_cast<double>(t) + 0.5 - mean) / (sd * std::sqrt(2.0)));
  return cdf;
}

// The median of sorted values (the mean of the two middle ones for an even count).
double sorted_median(const std::vector<double>& v) {
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Two-sided p-value of the normal approximation, continuity-corrected.
double normal_two_sided_p(double statistic, double mean, double var) {
  if (var <= 0) return 1;
  const double z = (std::fabs(statistic - mean) - 0.5) / std::sqrt(var);
  return std::min(1.0, std::erfc(std::max(0.0, z) / std::sqrt(2.0)));
}

}  // namespace

std::vector<double> mann_whitney_counts(size_t n, size_t m) {
  // f[i][j][k]: orderings of i a's and j b's with U = k.
  std::vector<std::vector<std::vector<double>>> f(n + 1, std::vector<std::vector<double>>(m + 1));
  for (size_t i = 0; i <= n; ++i)
    for (size_t j = 0; j <= m; ++j) {
      f[i][j].assign(i * j + 1, 0);
      if (i == 0 || j == 0) {
        f[i][j][0] = 1;
        continue;
      }
      for (size_t k = 0; k <= i * j; ++k)
        f[i][j][k] = (k >= j && k - j <= (i - 1) * j ? f[i - 1][j][k - j] : 0) +
                     (k <= i * (j - 1) ? f[i][j - 1][k] : 0);  // the largest value is an a, or a b
    }
  return f[n][m];
}

double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return 1;
  std::vector<std::pair<double, bool>> all;  // value, from a
  for (double v : a) all.emplace_back(v, true);
  for (double v : b) all.emplace_back(v, false);
  const RankSum r = rank_sum(std::move(all));
  const double u = r.flagged - static_cast<double>(n * (n + 1)) / 2;
  const double nm = static_cast<double>(n * m);
  if (!r.ties && n <= 20 && m <= 20) return exact_two_sided_p(mann_whitney_counts(n, m), u);
  const double nn = static_cast<double>(n + m);
  return normal_two_sided_p(u, nm / 2, nm / 12 * ((nn + 1) - r.tie_term / (nn * (nn - 1))));
}

std::vector<double> signed_rank_counts(int n) {
  std::vector<double> c(static_cast<size_t>(n * (n + 1) / 2) + 1, 0.0);
  c[0] = 1;
  for (int k = 1; k <= n; ++k)
    for (int s = n * (n + 1) / 2; s >= k; --s) c[static_cast<size_t>(s)] += c[static_cast<size_t>(s - k)];
  return c;
}

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


Interval order_statistic_interval(const std::vector<double>& sorted, const std::vector<double>& cdf) {
  const size_t m = sorted.size();
  if (m == 0 || cdf.size() != m + 1) return {0, 0, 0};
  size_t best = 1;
  for (size_t k = 1; 2 * k <= m + 1; ++k)
    if (1 - 2 * cdf[k - 1] >= kTargetCoverage) best = k;
  return {sorted[best - 1], sorted[m - best], std::clamp(1 - 2 * cdf[best - 1], 0.0, 1.0)};
}

double signed_rank_smallest_p(int n) { return n <= 0 ? 1.0 : std::min(1.0, 2.0 / std::pow(2.0, n)); }

double mann_whitney_smallest_p(size_t n, size_t m) {
  if (n == 0 || m == 0) return 1;
  double ways = 1;  // C(n + m, min(n, m))
  const size_t k = std::min(n, m);
  for (size_t i = 1; i <= k; ++i) ways = ways * static_cast<double>(n + m - k + i) / static_cast<double>(i);
  return std::min(1.0, 2.0 / ways);
}

double signed_rank_detectable_shift(int pairs, double sd, double power) {
  const double inf = std::numeric_limits<double>::infinity();
  if (pairs < 6 || !(sd > 0) || !std::isfinite(sd) || pairs > 10000) return inf;
  const int n = pairs;
  const double nn = static_cast<double>(n);
  // Which values of T+ the test rejects at 5% (no ties: continuous draws).
  std::vector<bool> reject(static_cast<size_t>(n * (n + 1) / 2) + 1);
  if (n <= 30) {
    const auto counts = signed_rank_counts(n);
    for (size_t t = 0; t < reject.size(); ++t) reject[t] = exact_two_sided_p(counts, static_cast<double>(t)) < 0.05;
  } else {
    for (size_t t = 0; t < reject.size(); ++t)
      reject[t] = normal_two_sided_p(static_cast<double>(t), nn * (nn + 1) / 4, nn * (nn + 1) * (2 * nn + 1) / 24) < 0.05;
  }
  // The same standard normal draws at every shift: power is then monotone in the shift.
  constexpr int kReplicates = 2000;
  std::mt19937_64 rng(0x4C41434F + 41);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  std::vector<double> z(static_cast<size_t>(kReplicates) * static_cast<size_t>(n));
  for (auto& v : z) v = std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
  std::vector<std::pair<double, bool>> d(static_cast<size_t>(n));
  auto power_at = [&](double shift) {
    int rejected = 0;
    for (int r = 0; r < kReplicates; ++r) {
      for (int i = 0; i < n; ++i) {
        const double v = shift + z[static_cast<size_t>(r) * static_cast<size_t>(n) + static_cast<size_t>(i)];
        d[static_cast<size_t>(i)] = {std::fabs(v), v > 0};
      }
      std::sort(d.begin(), d.end());
      size_t t = 0;
      for (size_t i = 0; i < d.size(); ++i)
        if (d[i].second) t += i + 1;
      rejected += reject[t];
    }
    return static_cast<double>(rejected) / kReplicates;
  };
  double lo = 0, hi = 1;  // in units of sd
  while (power_at(hi) < power) {
    hi *= 2;
    if (hi > 1e6) return inf;
  }
  while (hi - lo > 1e-4) {
    const double mid = 0.5 * (lo + hi);
    (power_at(mid) >= power ? hi : lo) = mid;
  }
  return hi * sd;
}

RatioEstimate paired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  RatioEstimate out;
  out.paired = true;
  std::vector<double> logs;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    if (a[i] > 0 && b[i] > 0 && std::isfinite(a[i]) && std::isfinite(b[i])) logs.push_back(std::log(a[i] / b[i]));
  const int n = static_cast<int>(logs.size());
  out.n = n;
  out.smallest_p = signed_rank_smallest_p(n);
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
  out.ratio = std::exp(sorted_median(walsh));
  // [W_(k), W_(M+1-k)] covers the centre with 1 - 2 P(T+ <= k - 1): the
  // null distribution counted exactly up to 60 pairs, normal beyond.
  const double nn = static_cast<double>(n);
  const Interval logs_interval = order_statistic_interval(
      walsh, n <= 60 ? cdf_of_counts(signed_rank_counts(n))
                     : normal_cdf(m + 1, nn * (nn + 1) / 4, std::sqrt(nn * (nn + 1) * (2 * nn + 1) / 24)));
  out.interval = {std::exp(logs_interval.lo), std::exp(logs_interval.hi), logs_interval.coverage};
  out.p = wilcoxon_signed_rank_p(logs);
  return out;
}

RatioEstimate unpaired_ratio(const std::vector<double>& a, const std::vector<double>& b) {
  RatioEstimate out;
  std::vector<double> la, lb;
  for (double v : a)
    if (v > 0 && std::isfinite(v)) la.push_back(std::log(v));
  for (double v : b)
    if (v > 0 && std::isfinite(v)) lb.push_back(std::log(v));
  const size_t n = la.size(), m = lb.size();
  out.n = static_cast<int>(std::min(n, m));
  if (n == 0 || m == 0) return out;
  out.smallest_p = mann_whitney_smallest_p(n, m);
  std::vector<double> d;  // every log a[i] - log b[j]
  d.reserve(n * m);
  for (double x : la)
    for (double y : lb) d.push_back(x - y);
  std::sort(d.begin(), d.end());
  const size_t nm = d.size();
  out.ratio = std::exp(sorted_median(d));
  // [D_(k), D_(nm+1-k)] covers the shift with 1 - 2 P(U <= k - 1): exact up
  // to 20 + 20 repetitions, normal beyond.
  const Interval logs_interval = order_statistic_interval(
      d, n <= 20 && m <= 20
             ? cdf_of_counts(mann_whitney_counts(n, m))
             : normal_cdf(nm + 1, static_cast<double>(nm) / 2,
                          std::sqrt(static_cast<double>(nm) * static_cast<double>(n + m + 1) / 12)));
  out.interval = {std::exp(logs_interval.lo), std::exp(logs_interval.hi), logs_interval.coverage};
  out.p = mann_whitney_p(a, b);
  return out;
}

}  // namespace laco
