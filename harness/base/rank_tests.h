// Distribution-free tests on ranks, with their exact null distributions:
// Mann-Whitney U for two independent samples and the Wilcoxon signed-rank
// test for paired differences; the ratio of two timings estimated from
// them (paired on rounds, or unpaired) with its exact interval; and how
// small a shift the signed-rank test can detect with a given number of
// pairs. Below the evaluations (`laco run`'s speed-ups), the report (its
// tables and `laco compare`) and the runner (whose --dry-run says what a
// planned number of rounds can detect), so that all use the same test.
#pragma once

#include <cstddef>
#include <vector>

namespace laco {

/// A 95% confidence interval (or the most that the data allow: `coverage`).
struct Interval {
  double lo = 0, hi = 0;
  double coverage = 0.95;
};

/// The coverage every interval aims for, and the least one may have to be
/// printed without a mark of falling short (95%, less float rounding).
constexpr double kTargetCoverage = 0.95;
constexpr double kFullCoverage = kTargetCoverage - 1e-9;

/// The interval between order statistics [v_(k), v_(M+1-k)] of `sorted`
/// (M values) whose coverage, 1 - 2 cdf[k - 1], reaches kTargetCoverage for
/// the largest k; without one, k = 1 (the widest) with the coverage it has.
/// cdf[t] = P(S <= t) of the rank statistic S that indexes the values
/// (M + 1 entries): a binomial for the median, the signed-rank or
/// Mann-Whitney distribution for a Hodges-Lehmann estimate.
Interval order_statistic_interval(const std::vector<double>& sorted, const std::vector<double>& cdf);

/// Two-sided p-value of the Mann-Whitney U test (mid-ranks for ties; exact
/// distribution up to 20 + 20 samples without ties, normal approximation otherwise).
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);
/// Two-sided p-value of the Wilcoxon signed-rank test that the differences
/// are centred on 0 (zeros dropped; mid-ranks for ties; exact up to 30
/// non-zero differences without ties, normal approximation otherwise).
double wilcoxon_signed_rank_p(const std::vector<double>& differences);

/// The null distribution of the signed-rank statistic T+ with n pairs: the
/// count of the 2^n equally likely sign patterns giving each sum 0..n(n+1)/2
/// (as doubles: exact up to n = 53, relative error 2^-53 beyond).
std::vector<double> signed_rank_counts(int n);
/// The null distribution of the Mann-Whitney U with n and m samples: the
/// count of the C(n + m, n) equally likely orderings giving each U in 0..n m.
std::vector<double> mann_whitney_counts(size_t n, size_t m);
/// The smallest two-sided p-value the signed-rank test can give with n pairs: 2 / 2^n (1 for n = 0).
double signed_rank_smallest_p(int n);
/// The smallest two-sided p-value Mann-Whitney can give with n and m samples: 2 / C(n + m, n).
double mann_whitney_smallest_p(size_t n, size_t m);

/// The smallest shift of the paired log ratios (in the log) that a two-sided
/// signed-rank test at the 5% level detects with probability `power`, when
/// the per-pair differences scatter normally with standard deviation `sd`:
/// by simulation (a fixed seed, the same draws at every shift, so the
/// answer is deterministic and monotone), bisected to 1e-4 sd. Infinity when
/// n < 6 (no outcome of fewer pairs reaches the 5% level) or sd is not positive and finite.
/// Usage: std::exp(signed_rank_detectable_shift(8, 0.05)) - 1 is the detectable relative difference.
double signed_rank_detectable_shift(int pairs, double sd, double power = 0.8);

/// A ratio of two timings a / b with its interval and test, from one of two designs:
/// - paired (paired_ratio): a[i] and b[i] were taken in round i of one
///   interleaved group, so their ratio cancels what the machine did to both
///   in that round (the drift between rounds that makes an unpaired
///   comparison of two runs noisy). The sample is the per-round log ratio:
///   the Hodges-Lehmann estimate (median of the Walsh averages), its exact
///   signed-rank interval and the Wilcoxon signed-rank test.
/// - unpaired (unpaired_ratio): runs not measured together (another group,
///   another commit). The two-sample Hodges-Lehmann estimate (median of all
///   log a[i] - log b[j]), its exact interval from the Mann-Whitney
///   distribution (the shift model: one is the other times a factor) and the
///   Mann-Whitney test.
/// Both intervals are the narrowest reaching 95%; with too few values none
/// does, and the widest is returned with the coverage it has (3 pairs: 75%;
/// 3 against 3 repetitions: 90%).
struct RatioEstimate {
  bool paired = false;
  int n = 0;         ///< pairs (rounds with both values), or the smaller sample; 0: nothing to estimate
  double ratio = 1;  ///< the estimate of a / b
  Interval interval{0, 0, 0};
  double p = 1;      ///< two-sided p-value of ratio 1
  /// The smallest p-value the test can give with these sizes (complete separation).
  double smallest_p = 1;
};
/// Usage: paired_ratio(samples_of_a, samples_of_b) with samples in the order measured (one per round).
RatioEstimate paired_ratio(const std::vector<double>& a, const std::vector<double>& b);
/// Usage: unpaired_ratio(repetitions_of_a, repetitions_of_b).
RatioEstimate unpaired_ratio(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace laco
