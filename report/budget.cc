#include "report/budget.h"

#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace laco {

int64_t TrainingBudgets::of(const RunSpec& spec) const {
  if (!spec.is_accuracy() || spec.preset != preset) return 0;
  const AccuracySettings& a = spec.accuracy();
  if (a.steps1 == steps1 && a.steps2 == steps2) return 1;
  const int64_t total = steps1 + steps2, run_total = a.steps1 + a.steps2;
  if (total <= 0 || run_total % total != 0) return 0;
  const int64_t k = run_total / total;
  return k >= 2 && a.steps1 == k * steps1 && a.steps2 == k * steps2 ? k : 0;
}

std::string TrainingBudgets::steps(int64_t budget) const {
  return fmt::format("{} + {}", budget * steps1, budget * steps2);
}

TrainingBudgets training_budgets(const std::vector<RunRecord>& runs, const std::string& accuracy_preset) {
  TrainingBudgets b;
  b.preset = accuracy_preset;
  std::map<std::pair<int64_t, int64_t>, size_t> count;
  for (const auto& r : runs)
    if (r.spec.is_accuracy() && r.spec.preset == accuracy_preset)
      ++count[{r.spec.accuracy().steps1, r.spec.accuracy().steps2}];
  // The most runs; among equals the fewest steps (then the fewest stage-1 steps): the same choice in any storage order.
  std::tuple<size_t, int64_t, int64_t> best{0, 0, 0};
  for (const auto& [steps, n] : count) {
    const std::tuple<size_t, int64_t, int64_t> key{n, -(steps.first + steps.second), -steps.first};
    if (key > best) {
      best = key;
      b.steps1 = steps.first;
      b.steps2 = steps.second;
    }
  }
  std::set<int64_t> present;
  for (const auto& r : runs)
    if (const int64_t k = b.of(r.spec)) present.insert(k);
  b.present.assign(present.begin(), present.end());
  return b;
}

}  // namespace laco
