// The report's only input: the finished runs of a results database, read on
// a read-only connection and returned in key order (storage order never
// changes a table).
#pragma once

#include <string>
#include <vector>

#include "evals/run_record.h"

namespace laco {

/// Every run with status done that passes the --where filters (results/filter.h):
/// configuration, provenance, metrics and the raw data behind them (timing
/// samples, test predictions; absent in databases of schema version 1; a
/// benchmark run's responses, schema version 4 on) and a fine-tune's curves
/// (its series: the loss per optimizer step its table plots); other runs'
/// curves are not needed. `warnings` receives a line per filter value that
/// matches no run.
std::vector<RunRecord> load_done_runs(const std::string& db_path, const std::vector<std::string>& where = {},
                                      std::vector<std::string>* warnings = nullptr);

}  // namespace laco
