// `laco query`: runs and their metrics from the results database, filtered by
// KEY=VALUE pairs bound as parameters (never pasted into SQL), or any SQL
// statement on a read-only connection.
#pragma once

#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

struct QueryOptions {
  std::string db = "results/laco.db";
  /// KEY=VALUE: a runs column (eval, status, preset, method, layer, block_k,
  /// ratio, seed, ...), `sweep`, `grid`, or a field of the resolved
  /// configuration (grid_policy, reps, steps1, ...). Pairs with the same key
  /// are alternatives (OR); different keys must all hold (AND).
  std::vector<std::string> where;
  /// Metric columns; empty: the common ones present; "all": every metric.
  std::vector<std::string> metrics;
  /// Instead of the run listing: this one statement, read-only.
  std::string sql;
};

/// The runs (or the --sql statement's rows) as a table for any printer.
/// `warnings` (when given) receives one line per --where value that matches
/// no run, naming the key and the values the database holds.
PrintTable run_query(const QueryOptions& options, std::vector<std::string>* warnings = nullptr);

}  // namespace laco
