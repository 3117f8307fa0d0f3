// The `laco` subcommands around the results database: sweep, merge, slurm,
// query, compare. Kept apart from main.cc, which only wires them in.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "runner/slurm.h"
#include "runner/sweep.h"
#include "report/compare.h"
#include "results/query.h"

namespace laco {

/// Usage: ResultsCli results(app); app.parse(...); if (auto status = results.run()) return *status;
class ResultsCli {
 public:
  explicit ResultsCli(CLI::App& app);
  /// The exit status when one of these subcommands was chosen, else nullopt.
  /// Errors are laco::Error, for main() to report.
  std::optional<int> run();

 private:
  CLI::App *sweep_cmd_ = nullptr, *merge_cmd_ = nullptr, *slurm_cmd_ = nullptr, *query_cmd_ = nullptr,
           *compare_cmd_ = nullptr;
  std::string spec_, shard_, evals_;
  SweepOptions sweep_options_;
  SweepOverrides overrides_;
  std::string merge_out_;
  std::vector<std::string> merge_inputs_;
  SlurmOptions slurm_;
  QueryOptions query_;
  std::string metrics_, format_ = "table";
  CompareOptions compare_;
  std::string compare_metrics_, compare_format_ = "table";
};

}  // namespace laco
