// `laco compare`: the same configurations measured at two commits, side by
// side, as llama.cpp's compare script does for llama-bench. Per run with two
// measurements (the current one and one archived by `laco sweep --remeasure`
// or a merge) and per metric: both values with their 95% intervals, the
// ratio new/base, and whether the difference is beyond the noise, decided
// from the raw data with the report's tests (report/stats.h):
//
// - timings: medians of the repetitions [order-statistic interval], the
//   ratio's bootstrap interval, a two-sided Mann-Whitney U test (p < 0.05);
// - accuracies: recomputed from the stored test predictions [bootstrap
//   interval], the difference by a paired bootstrap on the questions both
//   measurements answered (significant when its 95% interval excludes 0);
// - benchmark runs: `score` and the task's headline (task_NAME, compared by
//   default, first) recomputed from the stored responses, tested alike
//   (report/benchmark_stats.h: images with their questions for MME);
// - fine-tunes: final_loss, step_time_p50 and peak_rss by default;
//   step_time_p50 recomputed from the per-step times (median
//   [order-statistic interval]), new/base paired by step where both
//   measurements trained the same steps (signed-rank), else Mann-Whitney;
//   final_loss and the rest, one value of one training run per measurement,
//   "not tested (fine-tunes: ...)";
// - anything without raw data (counts, FLOPs, measurements stored before
//   schema version 2): the values and their ratio, "not tested".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "evals/run_spec.h"
#include "harness/print/table.h"
#include "report/table.h"

namespace laco {

struct CompareOptions {
  std::string db = "results/laco.db";
  std::vector<std::string> where;    ///< --where KEY=VALUE, as in `laco query` (results/filter.h)
  std::vector<std::string> metrics;  ///< empty: each evaluation's headline metrics; "all": every shared metric
  std::string base;  ///< commit prefix of the base measurement; "": the newest at another commit than new's
  std::string new_;  ///< commit prefix of the new measurement; "": the current one
};

/// One metric of one configuration, measured twice.
struct ComparedMetric {
  std::string key;
  RunSpec spec;
  std::string metric, unit;
  std::string base_commit, new_commit;  ///< commit_label(): "0123456789ab+dirty"
  Stat base, new_;                      ///< mean is the central value; ci when the raw data give one
  std::optional<double> ratio;          ///< new / base (none when base is 0)
  std::optional<Interval> ratio_ci;     ///< timings with repetitions in both
  Difference difference;                ///< the test; kNone: "not tested"
};

struct Comparison {
  std::string db;
  std::vector<ComparedMetric> rows;  ///< by configuration (eval, preset, method, block, ratio, seed), then metric
  std::vector<std::string> notes;    ///< which measurements were compared, how to read the table
};

/// Reads the database (read-only) and compares. An Error naming the database
/// and what it holds when no run passing the filters has two measurements to
/// compare, and one naming the commits present for a --base/--new prefix that
/// matches none (or more than one). `warnings` receives the --where values
/// that match no run.
Comparison compare_measurements(const CompareOptions& options, std::vector<std::string>* warnings = nullptr);

/// The comparison as the printer layer's table. `data` (csv, json): every
/// number in its own column (base, base_lo, base_hi, ...; unique names);
/// otherwise (table, md) "12.3 [11.9, 12.8]" cells for reading.
PrintTable comparison_table(const Comparison& comparison, bool data);

/// Whether a printer format is for data (csv, json) rather than for reading.
bool data_format(const std::string& format);

}  // namespace laco
