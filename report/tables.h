// The report's tables, built from the run index (report/run_index.h): the
// paper's four (methods at one placement, layer placement, compression
// ratio, efficiency relative to external compression), the training stages,
// generation, and, when accuracy runs were trained at more than one stage
// 1 + 2 budget (a sweep grid's `budgets`), the methods' ranking at each
// budget; before them the benchmark runs' tables (report/benchmark_table.h)
// and the fine-tunes' (report/finetune_table.h). They are registered by name (table_registry()).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "report/run_index.h"
#include "report/table.h"

namespace laco {

/// Table 1: per-family accuracy, average, visual tokens and throughput per method at one placement.
Table methods_table(const RunIndex& index, const ReportOptions& options);
/// Table 2: average and most sensitive family, training and inference speed per method and placement.
Table placement_table(const RunIndex& index, const ReportOptions& options);
/// Table 3: accuracy and cost per method at r = 2, 3, 4 (4x, 9x, 16x fewer tokens).
Table ratio_table(const RunIndex& index, const ReportOptions& options);
/// Table 4: training step, throughput, prefill and peak memory against the same
/// method and ratio after the encoder, next to the FLOP model's prediction.
Table efficiency_table(const RunIndex& index, const ReportOptions& options);

/// Table 5: the training step of each stage (all trainable, encoder frozen,
/// encoder + LM frozen) against the same method and ratio after the
/// encoder, next to the FLOP model's prediction. No rows when no run
/// measured a frozen stage (runs stored before it was measured).
Table training_table(const RunIndex& index, const ReportOptions& options);

/// Table 6, generation: per ratio, each method and placement with its
/// visual tokens, KV cache per request, time per output token at batch 1
/// and at the batch (against no compression, next to the decode model's
/// prediction), end-to-end latency of each generated-token count (against
/// the same method after the encoder), decode throughput and the largest
/// batch the memory budget holds. No rows without decode runs.
Table generation_table(const RunIndex& index, const ReportOptions& options);

/// Ranking vs training budget: per method at the methods table's placement
/// and ratio, the average accuracy and the rank at each budget (1 + the
/// methods significantly better there). Built when budgets().present holds
/// more than one budget.
Table budget_table(const RunIndex& index, const ReportOptions& options);

/// One table of the report: its name (the file stem, `laco report --table`),
/// how it is built, and when it is part of the report.
struct TableInfo {
  std::string name;
  std::function<Table(const RunIndex& index, const ReportOptions& options)> build;
  /// Whether the index has what the table compares (checked before building); empty: always.
  std::function<bool(const RunIndex& index)> when;
  /// Left out when built without a row (nothing measured what it shows).
  bool needs_rows = false;
  /// A family of tables, one per group of runs (each named NAME_..., its
  /// Table::family NAME), built by this instead of `build`.
  std::function<std::vector<Table>(const RunIndex& index, const ReportOptions& options)> build_all;
};

/// Every table, in the report's order: benchmark (when there are benchmark
/// runs: one table per task, benchmark file, checkpoint and limit,
/// report/benchmark_table.h), finetune (when there are fine-tunes: one table
/// per conversation file, report/finetune_table.h), methods, placement,
/// ratio, efficiency, training and generation (when they have rows), budget
/// (when runs were trained at more than one budget). The SynthVQA tables are
/// left out of a report of benchmark runs or fine-tunes alone. A new table is one entry.
const std::vector<TableInfo>& table_registry();
std::vector<std::string> table_names();

/// The tables of table_registry() that belong in the report, in its order.
/// A table's --table name is its family where it has one (table_selector()).
std::vector<Table> build_tables(const RunIndex& index, const ReportOptions& options);
/// The registry name that selects `table` (--table): its family, else its name.
const std::string& table_selector(const Table& table);

/// The family whose accuracy drops most from the `none` ceiling across the
/// compressed runs at `ratio` (the lowest average when there is no ceiling).
std::string most_sensitive_family(const RunIndex& index, int64_t ratio);

}  // namespace laco
