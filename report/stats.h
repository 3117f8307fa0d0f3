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
// - Benchmark scores: the same two bootstraps on a run's stored responses,
//   the task's own aggregate recomputed on each resample
//   (report/benchmark_stats.h, which draws with the generator below).
// - Timings: the median with a distribution-free interval from order
//   statistics (its coverage is exact and printed when fewer repetitions
//   cannot reach 95%).
// - Two timings measured in the same rounds of one interleaved group
//   (paired_ratio): the per-round log ratio is the sample; the
//   Hodges-Lehmann ratio with its exact signed-rank interval and the
//   Wilcoxon signed-rank test (6 rounds are the fewest that reach 95%).
//   Timings not measured together (unpaired_ratio): the two-sample
//   Hodges-Lehmann ratio, its exact Mann-Whitney interval and test. These
//   and the tests themselves are in harness/base/rank_tests.h, below the
//   evaluations, which print them too (`laco run`'s speed-ups).
// - Values that are one number per run, pooled over seeds (a fine-tune's
//   losses and costs: one training run has no repetitions): the mean with
//   Student's t interval over the seeds (t_interval).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "evals/measure.h"
#include "harness/base/rank_tests.h"

namespace laco {

/// The resamples behind every bootstrap interval of a report.
inline constexpr int kBootstrapResamples = 2000;

/// The generator of one kind of bootstrap: fixed-seeded ("LACO" + `stream`,
/// a number per kind of interval), so that every report draws the same resamples.
std::mt19937_64 bootstrap_rng(uint64_t stream);
/// An index in [0, n) (n > 0): mt19937_64's output is fixed by the standard;
/// the modulo bias (n / 2^64) is far below anything a table prints.
size_t bootstrap_draw(std::mt19937_64& rng, size_t n);
/// The 2.5 and 97.5 percentiles of the resampled values: a 95% percentile interval.
Interval percentile_interval(std::vector<double> values);

/// One seed's questions, grouped in strata (families): correct or not.
using SeedAnswers = std::vector<std::vector<bool>>;

/// How an accuracy summarises the strata: the mean over strata of their
/// accuracies (acc_mean) or the accuracy over all questions (acc_overall, one family).
enum class AccuracyKind { kMeanOfStrata, kPooled };

/// The accuracy in percent of one seed.
double accuracy_percent(const SeedAnswers& seed, AccuracyKind kind);

/// Bootstrap interval of the mean over seeds of accuracy_percent.
/// Usage: accuracy_interval({{{1,1,0,1}}, {{1,0,0,1}}}, AccuracyKind::kPooled);
Interval accuracy_interval(const std::vector<SeedAnswers>& seeds, AccuracyKind kind,
                           int resamples = kBootstrapResamples);

/// The same questions answered by two methods: per seed, per stratum, aligned
/// pairs (a[i] and b[i] are the same question).
struct PairedSeed {
  std::vector<std::vector<bool>> a, b;
};
/// Paired bootstrap interval of mean(a) - mean(b), in accuracy points.
Interval paired_difference_interval(const std::vector<PairedSeed>& seeds, AccuracyKind kind,
                                    int resamples = kBootstrapResamples);

/// The median's order-statistic interval (the median itself: evals/measure.h).
Interval median_interval(std::vector<double> values);

/// The 97.5th percentile of Student's t distribution with `df` >= 1 degrees
/// of freedom: exact to 9 decimals up to 30, a Cornish-Fisher expansion
/// beyond (within 2e-6).
double t_quantile_975(int df);
/// The 95% t interval of the mean of `values` (n >= 2): mean ± t(n - 1) s /
/// sqrt(n), s the sample std; it assumes the values scatter normally, which
/// n values cannot check. Coverage 0 (no interval) for fewer than 2 values.
/// Usage: t_interval({1.0, 1.2}) == {-0.1706, 2.3706} (t(1) = 12.706).
Interval t_interval(const std::vector<double>& values);

}  // namespace laco
