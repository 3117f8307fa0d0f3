// A report table: typed cells (a label, a statistic over seeds, a relative
// change, or a difference of two values) under columns that carry their metric, and the marking of
// the best value and of every value not significantly different from it.
// Every renderer (report/render.h) prints the same values, so the formats cannot disagree.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evals/metrics.h"
#include "evals/run_record.h"
#include "report/evidence.h"

namespace laco {

enum class CellKind { kLabel, kStat, kChange, kDifference };

struct Cell {
  CellKind kind = CellKind::kLabel;
  std::string label;
  Stat stat;       ///< kStat; kChange (mean is the change in %); kDifference (mean is a - b in the column's unit)
  bool bold = false;

  static Cell text(std::string s);
  static Cell value(const Stat& s);
  /// A relative change in percent, printed with its sign ("+12.3%"), and its
  /// interval when the statistic has one ("+12.3% [+8.1, +16.0]").
  static Cell change(const Stat& percent);
  /// A difference of two values in the column's unit, printed with its sign
  /// and its interval when the statistic has one ("-12.5 [-20.0, -5.0]").
  static Cell difference(const Stat& delta);
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
  /// The evaluation the column's values come from ("accuracy", "efficiency",
  /// "benchmark", "finetune"): which encoder's block the CSV names.
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
  /// "zero_init=true", or ""; a benchmark run imported from lmms-eval adds
  /// "origin=lmms-eval" (its row is apart from the native run's); a
  /// fine-tune's row adds its stage, steps, accumulation, checkpoint and out
  /// folder(s) ("stage=1,steps=100,accumulation=8,checkpoint=0123abcd,out=runs/ft").
  std::string options;
  std::string placement;  ///< "1/4"; "" where it does not apply (`none`)
  int64_t block_accuracy = 0, block_efficiency = 0;
  /// The block in the released checkpoint's encoder (benchmark and finetune tables).
  int64_t block_benchmark = 0;
  int64_t ratio = 0;      ///< 0 where it does not apply
};

struct Table {
  std::string name;     ///< file stem: methods, placement, ratio, efficiency, training, generation, budget, benchmark_..., finetune_...
  /// The registry entry (`laco report --table` name) that built it, where it
  /// is one of several tables of one entry ("benchmark"); "": the name.
  std::string family;
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

}  // namespace laco
