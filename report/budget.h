// The training budget of stored accuracy runs, read back from their step
// counts. A sweep grid's `budgets` (runner/sweep_spec.h) multiply
// stages 1 and 2; the runs store the steps they trained (steps1, steps2),
// not the multiplier, so that budget 1 is the run without the grid key. The
// report recovers the multiplier against the steps most runs have: the runs
// of the other tables (the budget the rest of a sweep uses), and keeps runs
// at other budgets out of those tables' cells, where they would mix
// configurations; the budget table compares them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/run_record.h"

namespace laco {

/// Usage: TrainingBudgets b = training_budgets(runs, "small"); b.of(run.spec) == 4;
struct TrainingBudgets {
  /// Budget 1, the reference: the (steps1, steps2) most accuracy runs of the
  /// preset have (ties: the fewest steps).
  int64_t steps1 = 0, steps2 = 0;
  /// The budgets that have runs, ascending (1 first when there are any).
  std::vector<int64_t> present;

  /// 1 for the reference steps, k >= 2 for k times both of them, 0 for
  /// other steps, other presets and efficiency runs (no budget: they stay
  /// with budget 1, where runs that differ in more than the seed are refused
  /// as before).
  int64_t of(const RunSpec& spec) const;
  /// "200 + 400": the stage 1 + 2 steps of budget k.
  std::string steps(int64_t budget) const;

  std::string preset;  ///< the accuracy preset they were read from
};

TrainingBudgets training_budgets(const std::vector<RunRecord>& runs, const std::string& accuracy_preset);

}  // namespace laco
