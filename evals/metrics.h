// The metric registry: one entry per metric or metric family that a run can
// store, saying what it is (unit, which way is better, how many decimals it
// is printed with), how its values over seeds are pooled and tested, which
// analytic model predicts it, and where it is shown by default. In the spirit
// of nvbench's summaries with their hints: every view (the report's columns,
// `laco run`'s table, `laco query`'s and `laco compare`'s defaults, a sweep's
// log line, `--vs-external`, `laco metrics`) reads the same entry, so a new
// metric is one entry here and a stored metric without one fails a test
// (tests/test_metrics.cc).
//
// A family's name has one placeholder: {n} (a generated-token count, e.g.
// decode_latency_{n}) or {family} (a SynthVQA family or a user data set's,
// acc_{family}). Families whose variants are a fixed list (the training
// regimes' suffixes, a timing's _min and _max) are expanded into entries.
//
//   const MetricInfo& m = metric_info("train_step_time");   // ms, lower is better
//   m.model;                                                // "flops_train_step"
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

/// Better is higher, lower, or not ranked (no bold).
enum class Better { kNone, kHigher, kLower };

/// How a value over seeds is formed, and so which test compares two values.
enum class Statistic {
  /// Accuracy from the stored test predictions: mean over seeds with a
  /// two-level bootstrap interval; compared by a paired bootstrap on the
  /// questions both answered.
  kAccuracy,
  /// A timing (or a rate per repetition): the median of every stored
  /// repetition, with an order-statistic interval; compared by a test on the repetitions.
  kTiming,
  /// One value per run: the mean over seeds ± their sample std; not tested.
  kMean,
};

/// What noise a value carries, which decides its spread and its bold.
enum class Noise {
  kSampled,  ///< measured with noise: ± std over seeds, bold only beyond the noise
  kExact,    ///< measured without noise (an allocator's peak): ± std, bold is the best printed value
  kFixed,    ///< fixed by the configuration (a count, an analytic model): no spread
};

struct MetricInfo {
  std::string name;  ///< a name, or a family's pattern with one placeholder ({n} or {family})
  std::string eval;  ///< the evaluation that stores it (a name two evaluations store has an entry in each)
  std::string unit;
  Better better = Better::kNone;
  int decimals = 1;  ///< as the report prints it
  Statistic statistic = Statistic::kMean;
  Noise noise = Noise::kSampled;
  /// The metric of the analytic model that predicts this one's ratios
  /// (train_step_time -> flops_train_step), same placeholder; "" for none.
  std::string model;
  std::string description;  ///< one line
  /// Default views, by rank (0: not shown; 1 first): a run's log line and
  /// `laco compare`'s default metrics (headline), `laco run`'s table, `laco query`'s listing.
  int headline = 0, run_table = 0, query = 0;
  /// For {n} in `laco run`'s table: every generated-token count, or only the longest.
  bool longest_only = false;

  /// Whether `metric` is this entry (its name, or its pattern with the placeholder filled).
  bool matches(const std::string& metric) const;
  /// The name with its placeholder filled ("decode_latency_{n}", "16" -> "decode_latency_16").
  std::string with(const std::string& value) const;
  /// The model metric of `metric` (an instance of this entry); "" for none.
  std::string model_of(const std::string& metric) const;
  bool spread() const { return noise != Noise::kFixed; }
  bool exact() const { return noise != Noise::kSampled; }
};

/// Every entry, in the order listings use.
const std::vector<MetricInfo>& metric_registry();
/// The entry `metric` (of evaluation `eval`; "" for any) is an instance of:
/// exact names before families, in registry order; null for a metric with no entry.
const MetricInfo* lookup_metric(const std::string& metric, const std::string& eval = "");
/// The same, or an Error naming the metric and where to add it.
const MetricInfo& metric_info(const std::string& metric, const std::string& eval = "");

/// Which default view (MetricInfo's ranks).
enum class MetricView { kHeadline, kRunTable, kQuery };
/// The metrics of `eval` (every evaluation's for "") that `view` shows, in
/// rank order, placeholders filled: {family} with the SynthVQA families, {n}
/// with `gen_tokens` (its last only where longest_only; none when empty).
std::vector<std::string> view_metrics(MetricView view, const std::string& eval = "",
                                      const std::vector<int64_t>& gen_tokens = {});

/// The registry as a table (`laco metrics`; docs/evaluations.md holds its Markdown).
PrintTable metric_registry_table();

}  // namespace laco
