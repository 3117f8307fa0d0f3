// The value of a table cell over seeds (Stat) and the raw data behind it
// (Evidence: the test questions each seed answered, every timed repetition,
// or a benchmark run's stored responses), with the test that says whether two
// values differ beyond the noise. Which a metric takes is its registry
// entry's statistic (evals/metrics.h); a benchmark score's is
// report/benchmark_stats.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "report/stats.h"

namespace laco {

struct BenchmarkEvidence;  // report/benchmark_stats.h

/// The outcome of testing two values' raw data against each other.
struct Difference {
  enum class Test { kNone, kMannWhitney, kSignedRank, kPairedBootstrap };
  /// kNone: nothing to test (no raw data, no question in common); timings
  /// measured in the same rounds take the signed-rank test on their pairs,
  /// others Mann-Whitney.
  Test test = Test::kNone;
  double p = 1;              ///< kMannWhitney, kSignedRank: the two-sided p-value
  /// kMannWhitney, kSignedRank: the smallest p the sizes allow (below 0.05 or the test cannot find a difference).
  double smallest_p = 1;
  int n = 0;                 ///< kSignedRank: pairs; kMannWhitney: the smaller sample
  /// kPairedBootstrap: 95% interval of this - other, in the value's unit
  /// (accuracy points; a benchmark score's points on its own scale).
  Interval interval;
  bool significant = false;  ///< at the 5% level: p < 0.05, or the interval excludes 0
};

/// The raw data behind a value, for the test that decides whether two
/// values differ beyond the noise (report/stats.h).
struct Evidence {
  /// Accuracy: seed -> stratum (family) -> question id -> correct.
  std::map<uint64_t, std::map<std::string, std::map<std::string, bool>>> answers;
  AccuracyKind kind = AccuracyKind::kPooled;
  /// Timing: every repetition of every run pooled here.
  std::vector<double> samples;
  /// Timing: the same repetitions by measurement (the id the runs of one
  /// interleaved group share, RunRecord::facts["measurement"]), in round
  /// order: repetition i of two runs of one measurement was taken in round i.
  std::map<std::string, std::vector<double>> rounds;
  /// Benchmark: each seed's responses and the score they give (report/benchmark_stats.h).
  std::shared_ptr<const BenchmarkEvidence> benchmark;

  /// Paired bootstrap on the questions both answered (same seed, stratum
  /// and question id: accuracy; same seed and question id, whole images
  /// where the task resamples images: a benchmark score); for timings the signed-rank test on the
  /// rounds both were measured in (paired_rounds), else a Mann-Whitney U test.
  Difference test(const Evidence& other) const;
  /// This timing over `other`'s: paired on their common rounds where they
  /// have some, else unpaired on all repetitions (report/stats.h).
  RatioEstimate ratio_to(const Evidence& other) const;
  /// The repetitions of the rounds both were measured in, aligned (a[i], b[i] of one round).
  std::pair<std::vector<double>, std::vector<double>> paired_rounds(const Evidence& other) const;
  /// test(other).significant: false when there is nothing to test.
  bool differs(const Evidence& other) const { return test(other).significant; }
  bool empty() const { return answers.empty() && samples.empty() && !benchmark; }
};

/// A value over seeds: the mean (accuracy, and values without raw data) or
/// the median of the pooled repetitions (timings), with its 95% interval when
/// the raw data allow one; n == 0 is a missing run.
struct Stat {
  int n = 0;        ///< seeds (runs) pooled
  /// A ratio of timings (a speed-up): the rounds it was paired on; 0 when
  /// not paired (runs measured apart) or not a ratio of timings.
  int rounds = 0;
  /// A ratio of timings with repetitions: the two-sided p-value of ratio 1
  /// (signed-rank test on the rounds when paired, else Mann-Whitney).
  std::optional<double> p;
  double mean = 0;  ///< the central value: mean over seeds, or median of the samples
  double std = 0;   ///< sample std over seeds; 0 when n < 2
  std::optional<Interval> ci;
  std::shared_ptr<const Evidence> evidence;

  static Stat of(const std::vector<double>& values);
  bool missing() const { return n == 0; }
};

/// The accuracy `metric` (acc_FAMILY, acc_overall or acc_mean) from the
/// test predictions of each seed: per seed, per stratum, question id ->
/// correct. Null when some seed has no question of that family.
std::shared_ptr<const Evidence> accuracy_evidence(const std::map<uint64_t, std::vector<Prediction>>& predictions,
                                                  const std::string& metric);
/// The mean over seeds of the accuracy, with its two-level bootstrap interval.
Stat accuracy_stat(const std::shared_ptr<const Evidence>& evidence);
/// The median of timed repetitions, with its order-statistic interval (from
/// 2 repetitions on); `rounds` as Evidence::rounds (empty: not pairable).
Stat timing_stat(std::vector<double> samples, std::map<std::string, std::vector<double>> rounds = {});
/// The mean over seeds of one value per run (a fine-tune's loss or cost),
/// with its sample std and, from 2 seeds on, its 95% t interval
/// (report/stats.h t_interval); no evidence: nothing to test it with.
Stat mean_t_stat(const std::vector<double>& per_seed);

}  // namespace laco
