// The finished runs a report is built from, indexed by configuration with
// their seeds pooled (RunIndex), and the options that choose what the tables
// show. Tables (report/tables.h) and plots (report/plots.h) read values
// through it, so that a value is pooled, tested and refused alike everywhere.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "report/budget.h"
#include "report/table.h"

namespace laco {

struct ReportOptions {
  std::string placement = "1/4";  ///< tables 1 and 3
  int64_t ratio = 2;              ///< tables 1, 2 and 4
  std::string accuracy_preset;    ///< "": the accuracy preset with the most runs
  std::string efficiency_preset;  ///< "": the efficiency preset with the most runs
};

/// The runs grouped by configuration, seeds pooled: runs share a cell only
/// when their whole resolved configuration is equal apart from the seed (and
/// the stage-0 identity, which the seed is part of). A cell that would mix
/// configurations (steps, reps, threads, stages, ...) is refused with an
/// error naming the fields that differ. Placements are compared by the block
/// they resolve to in each evaluation's encoder (1/4, 0.25 and block:K are one
/// placement there). A `none` run does not depend on placement or ratio: all
/// of them pool into one ceiling, one value per seed. Accuracy runs trained
/// at another stage 1 + 2 budget than most (report/budget.h) are not in the
/// index: each such budget has an index of its own (at_budget()), for the
/// budget table. Benchmark runs (a released checkpoint on a benchmark file)
/// and fine-tunes (a released checkpoint fine-tuned with a method inside)
/// are not in the index, and count for no preset: it keeps them as they are
/// for their own tables (benchmark_runs(), report/benchmark_table.h;
/// finetune_runs(), report/finetune_table.h).
class RunIndex {
 public:
  RunIndex(const std::vector<RunRecord>& runs, const ReportOptions& options);

  /// The benchmark runs among those given, in the order given.
  const std::vector<RunRecord>& benchmark_runs() const { return benchmark_runs_; }
  /// The fine-tunes (`laco train`) among those given, in the order given.
  const std::vector<RunRecord>& finetune_runs() const { return finetune_runs_; }
  /// Whether an accuracy or efficiency run (SynthVQA) is in the index.
  bool has_synthvqa_runs() const { return !groups_.empty(); }
  /// Whether the SynthVQA tables and plots belong in the report: there are
  /// SynthVQA runs, or no runs of another kind (benchmark runs, fine-tunes)
  /// that the report would be about instead.
  bool reports_synthvqa() const { return has_synthvqa_runs() || (benchmark_runs_.empty() && finetune_runs_.empty()); }

  /// Which steps are budget 1 and which budgets have accuracy runs.
  const TrainingBudgets& budgets() const { return budgets_; }
  /// The accuracy runs at budget `b` (one of budgets().present): this index
  /// for 1, else one that holds only those runs. An Error for another budget.
  const RunIndex& at_budget(int64_t b) const;

  const std::string& accuracy_preset() const { return accuracy_preset_; }
  const std::string& efficiency_preset() const { return efficiency_preset_; }
  /// Methods present (registry order), placements (by depth fraction), ratios.
  const std::vector<std::string>& methods() const { return methods_; }
  const std::vector<std::string>& placements() const { return placements_; }
  const std::vector<int64_t>& ratios() const { return ratios_; }
  /// The placement after the encoder ("1").
  const std::string& external() const { return external_; }
  /// The depth fraction of a placement (for block:K, K over the accuracy or
  /// efficiency encoder's depth), to order placements.
  double fraction(const std::string& placement) const;
  /// The label the tables use for a placement given in any spelling ("0.25" -> "1/4").
  std::string canonical(const std::string& placement) const;

  /// `metric` over seeds for eval ("accuracy" / "efficiency") at a configuration.
  Stat stat(const std::string& eval, const std::string& method, const std::string& placement, int64_t ratio,
            const std::string& metric) const;
  /// The generated-token counts the efficiency runs' decode stage measured
  /// (ascending; empty without one), and the batches it measured at.
  const std::vector<int64_t>& gen_tokens() const { return gen_tokens_; }
  const std::vector<int64_t>& decode_batches() const { return decode_batches_; }
  /// The block k a placement resolves to in an eval's preset (0 when that
  /// eval has no runs, or the placement is past its depth).
  int64_t block(const std::string& eval, const std::string& placement) const;
  /// The git commits (with "+dirty" where the tree was) of the runs a table used.
  std::vector<std::string> commits() const;
  /// What stands behind the values: seeds, questions per family, repetitions,
  /// and how many interleaved groups the efficiency runs were measured in
  /// (more than one: a comparison across groups was not measured together, and the note says so).
  std::string sizes() const;

 private:
  struct Group {
    std::map<uint64_t, std::map<std::string, std::vector<double>>> by_seed;  // seed -> metric -> values
    std::map<std::string, nlohmann::json> configurations;                   // what the runs pooled here share
    std::map<uint64_t, std::vector<Prediction>> predictions;                // seed -> test questions (first run)
    std::map<uint64_t, std::map<std::string, std::vector<double>>> samples;  // seed -> metric -> repetitions
    // seed -> metric -> measurement -> repetitions in round order (runs that record their measurement)
    std::map<uint64_t, std::map<std::string, std::map<std::string, std::vector<double>>>> rounds;
  };
  /// The value from the raw data (an interval and the evidence to test it), if every seed has them.
  std::optional<Stat> from_raw_data(const std::string& eval, const Group& group, const std::string& metric) const;
  std::string key(const std::string& eval, const std::string& method, int64_t block, int64_t ratio) const;
  /// The block a placement resolves to in each evaluation's encoder: equal
  /// vectors are one placement.
  std::vector<int64_t> blocks_of(const std::string& placement) const;

  /// The runs at one budget: budget 1 takes the efficiency runs and the
  /// accuracy runs whose budget is unknown too (budget.h).
  RunIndex(const std::vector<RunRecord>& runs, const ReportOptions& options, int64_t budget);

  std::string accuracy_preset_, efficiency_preset_, external_ = "1";
  TrainingBudgets budgets_;
  int64_t budget_ = 1;
  std::map<int64_t, std::shared_ptr<const RunIndex>> other_budgets_;
  std::vector<std::string> methods_, placements_;
  std::vector<int64_t> ratios_, gen_tokens_, decode_batches_;
  std::map<std::string, Group> groups_;
  std::vector<RunRecord> benchmark_runs_, finetune_runs_;
  std::map<std::string, int64_t> depths_;  // eval -> encoder depth of its preset
  std::vector<std::string> commits_;
  std::set<size_t> seeds_, questions_, repetitions_;
  size_t efficiency_runs_ = 0;
  // seed -> the groups its efficiency runs were measured in (a run measured alone is a group of its own)
  std::map<uint64_t, std::set<std::string>> measurement_groups_;
  mutable std::map<std::string, Stat> cache_;
};

/// Methods in registry order, then variants and unknown names alphabetically.
std::vector<std::string> in_registry_order(const std::set<std::string>& methods);

/// "steps0 (20, 200); reps (1, 5)": the fields whose values differ between the
/// configurations (keyed by any label); `first_field` receives the first such field.
std::string configuration_differences(const std::map<std::string, nlohmann::json>& configurations,
                                      std::string* first_field);

}  // namespace laco
