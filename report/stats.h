// The statistics behind every number a table prints: confidence intervals
// and the tests that decide what is "best beyond the noise". All of them are
// deterministic (a fixed-seed mt19937_64, whose output the C++ standard fixes,
// and no std:: distribution, whose output it does not), so regenerating a
// report gives the same bytes.
//
// - Accuracy: a two-level bootstrap, seeds resampled, then questions within
//   each seed (within each family for a mean over families); the 2.5 and 97.5
//   percentiles of 2000 resamples.
// - Two methods' accuracies: a paired bootstrap of their difference on the
//   questions both answered (same seed, same question id), resampled together;
//   different when the 95% interval of the difference excludes 0.
// - Timings: the median with a distribution-free interval from order
//   statistics (its coverage is exact and printed when fewer repetitions
//   cannot reach 95%); two timings differ when a two-sided Mann-Whitney U test
//   (exact up to 20 + 20 samples) gives p < 0.05.
// - Two timings measured in the same rounds (paired_ratio): the per-round
//   log ratio is the sample; the Hodges-Lehmann ratio with its exact
//   signed-rank interval and the Wilcoxon signed-rank test (6 rounds are the
//   fewest that reach 95%). Not yet used by the tables (issue 41).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/measure.h"

namespace laco {

/// A 95% confidence interval (or the most that the data allow: `coverage`).
struct Interval {
  double lo = 0, hi = 0;
  double coverage = 0.95;
};

/// One seed's questions, grouped in strata (families): correct or not.
using SeedAnswers = std::vector<std::vector<bool>>;

/// How an accuracy summarises the strata: the mean over strata of their
/// accuracies (acc_mean) or the accuracy over all questions (acc_overall, one family).
enum class AccuracyKind { kMeanOfStrata, kPooled };

/// The accuracy in percent of one seed.
double accuracy_percent(const SeedAnswers& seed, AccuracyKind kind);

/// Bootstrap interval of the mean over seeds of accuracy_percent.
/// Usage: accuracy_interval({{{1,1,0,1}}, {{1,0,0,1}}}, AccuracyKind::kPooled);
Interval accuracy_interval(const std::vector<SeedAnswers>& seeds, AccuracyKind kind, int resamples = 2000);

/// The same questions answered by two methods: per seed, per stratum, aligned
/// pairs (a[i] and b[i] are the same question).
struct PairedSeed {
  std::vector<std::vector<bool>> a, b;
};
/// Paired bootstrap interval of mean(a) - mean(b), in accuracy points.
Interval paired_difference_interval(const std::vector<PairedSeed>& seeds, AccuracyKind kind, int resamples = 2000);

/// The median's order-statistic interval (the median itself: evals/measure.h).
Interval median_interval(std::vector<double> values);

/// Bootstrap interval of median(num) / median(den), each resampled on its own.
Interval median_ratio_interval(const std::vector<double>& num, const std::vector<double>& den, int resamples = 2000);

/// Two timings measured in the same rounds of one interleaved group: a[i]
/// and b[i] were taken in round i, so their ratio cancels what the machine
/// did to both in that round (the drift between rounds that makes an
/// unpaired comparison of two runs noisy).
struct PairedRatio {
  int pairs = 0;      ///< rounds with both values (> 0)
  double ratio = 1;   ///< exp of the Hodges-Lehmann estimate of the median of log(a[i] / b[i])
  /// Its exact distribution-free interval: Walsh averages of the log ratios
  /// at the order statistics the signed-rank distribution gives, exp'd. The
  /// narrowest reaching 95%; with fewer than 6 pairs none does, and the
  /// widest is returned with the coverage it has (3 pairs: 75%).
  Interval interval;
  double p = 1;  ///< two-sided Wilcoxon signed-rank test of log ratio 0 (wilcoxon_signed_rank_p)
};
/// Usage: paired_ratio(samples_of_a, samples_of_b) with samples in the order measured (one per round).
PairedRatio paired_ratio(const std::vector<double>& a, const std::vector<double>& b);
/// Two-sided p-value of the Wilcoxon signed-rank test that the differences
/// are centred on 0 (zeros dropped; mid-ranks for ties; exact up to 30
/// non-zero differences without ties, normal approximation otherwise).
double wilcoxon_signed_rank_p(const std::vector<double>& differences);

/// Two-sided p-value of the Mann-Whitney U test (mid-ranks for ties; exact
/// distribution up to 20 + 20 samples without ties, normal approximation otherwise).
double mann_whitney_p(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace laco
