// A report table: typed cells (a label, or a statistic over seeds, or a
// relative change) that every renderer (Markdown, LaTeX, CSV, HTML) prints
// from the same values, so the formats cannot disagree.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evals/metrics.h"
#include "evals/run_record.h"
#include "harness/print/table.h"
#include "report/stats.h"

namespace laco {

/// The outcome of testing two values' raw data against each other.
struct Difference {
  enum class Test { kNone, kMannWhitney, kPairedBootstrap };
  Test test = Test::kNone;   ///< kNone: nothing to test (no raw data, no question in common)
  double p = 1;              ///< kMannWhitney: the two-sided p-value
  Interval interval;         ///< kPairedBootstrap: 95% interval of this - other, in accuracy points
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

  /// Paired bootstrap on the questions both answered (same seed, stratum
  /// and question id: accuracy), or a Mann-Whitney U test (timings).
  Difference test(const Evidence& other) const;
  /// test(other).significant: false when there is nothing to test.
  bool differs(const Evidence& other) const { return test(other).significant; }
  bool empty() const { return answers.empty() && samples.empty(); }
};

/// A value over seeds: the mean (accuracy, and values without raw data) or
/// the median of the pooled repetitions (timings), with its 95% interval when
/// the raw data allow one; n == 0 is a missing run.
struct Stat {
  int n = 0;        ///< seeds (runs) pooled
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
/// The median of timed repetitions, with its order-statistic interval (from 2 repetitions on).
Stat timing_stat(std::vector<double> samples);

enum class CellKind { kLabel, kStat, kChange };

struct Cell {
  CellKind kind = CellKind::kLabel;
  std::string label;
  Stat stat;       ///< kStat, and kChange (mean is the change in %)
  bool bold = false;

  static Cell text(std::string s);
  static Cell value(const Stat& s);
  /// A relative change in percent, printed with its sign ("+12.3%"), and its
  /// interval when the statistic has one ("+12.3% [+8.1, +16.0]").
  static Cell change(const Stat& percent);
};

/// A table's column. Usage: Column::of("throughput", "throughput", "efficiency")
/// (everything but the header from the metric registry, evals/metrics.h),
/// Column::change("speed-up", "train_step_speedup", "efficiency"), Column::label("method").
struct Column {
  std::string header;
  std::string unit;  ///< shown under the header; "" for labels
  int decimals = 1;
  Better better = Better::kNone;
  bool spread = true;  ///< print "± std" (off for quantities fixed by the configuration)
  /// Measured without noise (peak memory of the allocator): bold is the best
  /// printed value, with nothing to test.
  bool exact = false;
  /// The CSV's `metric`: unique within the table ("train_step_speedup").
  std::string metric = {};
  /// The evaluation the column's values come from ("accuracy", "efficiency"):
  /// which encoder's block the CSV names.
  std::string eval = {};

  /// A label column (method, placement): no unit, not ranked.
  static Column label(const std::string& header);
  /// The column of a stored metric of `eval`: unit, decimals, which way is
  /// better, spread and exactness from its registry entry; `unit` replaces
  /// the printed unit where the table says it otherwise ("per image").
  static Column of(const std::string& header, const std::string& metric, const std::string& eval,
                   const std::string& unit = "");
  /// A relative change in % derived from metrics (a speed-up, a gain): not
  /// ranked; `id` is its CSV metric ("train_step_speedup").
  static Column change(const std::string& header, const std::string& id, const std::string& eval);
};

/// What a row is about, for the tidy CSV: one configuration of one method.
struct RowKey {
  std::string method;     ///< registry name ("laco")
  std::string options;    ///< "zero_init=true", or ""
  std::string placement;  ///< "1/4"; "" where it does not apply (`none`)
  int64_t block_accuracy = 0, block_efficiency = 0;
  int64_t ratio = 0;      ///< 0 where it does not apply
};

struct Table {
  std::string name;     ///< file stem: methods, placement, ratio, efficiency, training, generation, budget
  std::string title;
  std::vector<std::string> notes;  ///< preset, ratio, commits, how to read it
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
  std::vector<bool> reference;  ///< per row: the uncompressed ceiling, never bold
  std::vector<RowKey> keys;     ///< per row
  std::vector<size_t> rules;    ///< a horizontal rule before these rows

  void add_row(std::vector<Cell> cells, bool is_reference = false, RowKey key = {});
  /// Bolds, in every ranked column among non-reference rows, the best value
  /// and every value not significantly different from it (Evidence::differs).
  /// Where the best value has no raw data (runs stored before schema version
  /// 2), only values that print alike are bold; a note then says that bold
  /// was not tested. Appends the notes that say how bold and intervals were decided.
  void mark_best();
};

/// "71.3 ± 2.1", "71.3" (one seed), "-" (missing); changes as "+12.3%".
std::string format_cell(const Cell& cell, const Column& column);

/// The table as the printer layer's model: cells as printed ("71.3 ± 2.1"), no bold.
PrintTable print_table(const Table& table);
/// Markdown through the printer layer's md printer, unpadded, best values in bold.
std::string render_markdown(const Table& table);
/// A booktabs tabular inside a table environment; compiles when wrapped in a
/// document with \usepackage{booktabs}.
std::string render_latex(const Table& table);
/// Tidy: one line per value with its table, method, options, placement, block,
/// ratio and metric as separate columns, then unit, mean (the central value),
/// ci_low, ci_high (95%; empty without raw data), std, n (seeds) and bold;
/// (table, method, options, placement, ratio, metric) is unique, so the file
/// pivots (docs/reports.md).
std::string render_csv_rows(const Table& table);
std::string csv_header();
std::string render_html(const Table& table);

std::string latex_escape(const std::string& text);
std::string html_escape(const std::string& text);

}  // namespace laco
