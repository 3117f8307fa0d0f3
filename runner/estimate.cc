#include "runner/estimate.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "evals/accuracy.h"
#include "evals/measure.h"
#include "harness/base/progress.h"

namespace laco {
namespace {

struct Past {
  std::string eval, preset, method, options;
  int64_t block = 0, ratio = 0, threads = 0;
  double seconds = 0;  // this run's share: accuracy without stage 0, efficiency per run of its group
  double stage0 = 0;   // accuracy: the stage-0 training it did (0 when cached)
  // Accuracy: the steps it trained and the seconds stages 1 and 2 took, so
  // that a run with another budget (sweep grids' "budgets") is scaled, not
  // predicted at this run's time.
  int64_t steps0 = 0, steps12 = 0;
  double train12 = 0;
};

// A past accuracy run's time for `steps12` stage 1 + 2 steps: its training
// time scaled by the step ratio, plus what does not scale (evaluation, set-up).
double scaled_seconds(const Past& p, int64_t steps12) {
  if (p.eval != "accuracy" || p.steps12 <= 0 || p.steps12 == steps12) return p.seconds;
  const double rest = std::max(0.0, p.seconds - p.train12);
  return rest + p.train12 * static_cast<double>(steps12) / static_cast<double>(p.steps12);
}

std::vector<Past> read_history(sql::Connection& db) {
  std::vector<Past> out;
  auto q = db.prepare(
      "SELECT r.eval, r.preset, r.method, r.method_options, r.block_k, r.ratio, "
      "coalesce(json_extract(r.config, '$.threads'), 0), r.wall_seconds, "
      "coalesce((SELECT m.value FROM metrics m WHERE m.run_key = r.key AND m.name = 'stage0_time'), 0), "
      "CASE WHEN coalesce(r.group_key, '') = '' THEN 1 ELSE "
      "(SELECT count(*) FROM runs g WHERE g.group_key = r.group_key AND g.status = 'done') END, "
      "coalesce(json_extract(r.config, '$.steps0'), 0), "
      "coalesce(json_extract(r.config, '$.steps1'), 0) + coalesce(json_extract(r.config, '$.steps2'), 0), "
      "coalesce((SELECT sum(m.value) FROM metrics m WHERE m.run_key = r.key AND m.name IN ('stage1_time', "
      "'stage2_time')), 0) "
      "FROM runs r WHERE r.status = 'done' AND r.wall_seconds > 0");
  while (q.step()) {
    Past p{q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5), q.int64(6), q.real(7), q.real(8)};
    const int64_t group = std::max<int64_t>(1, q.int64(9));
    p.steps0 = q.int64(10);
    p.steps12 = q.int64(11);
    p.train12 = q.real(12);
    // Every run of an efficiency group records the group's wall time.
    p.seconds = p.eval == "efficiency" ? p.seconds / static_cast<double>(group) : std::max(0.0, p.seconds - p.stage0);
    out.push_back(p);
  }
  return out;
}

}  // namespace

std::string DurationEstimate::describe() const {
  if (predicted + unknown == 0) return "nothing left to run";
  if (predicted == 0)
    return fmt::format("no estimate of the duration: no finished run of the same evaluations, presets and threads in "
                       "this database ({} to do)",
                       unknown);
  std::string s = fmt::format("estimated duration: about {} for {} of the {} runs to do ({}medians of {} finished "
                              "runs of the same kind in this database)",
                              format_duration(seconds), predicted, predicted + unknown,
                              stage0 ? fmt::format("{} stage-0 training(s) included; ", stage0) : std::string(),
                              history);
  if (unknown) s += fmt::format("; {} run(s) have nothing to go by and are not counted", unknown);
  return s;
}

DurationEstimate estimate_duration(const Sweep& sweep, const std::vector<size_t>& to_run, sql::Connection& db,
                                   const std::string& cache_dir) {
  const auto history = read_history(db);
  DurationEstimate e;
  std::set<const Past*> used;
  std::map<std::string, bool> stage0_needed;  // cache file -> no reusable file there (checked once)
  std::map<std::string, double> stage0_cost;  // cache file -> predicted training time
  for (size_t i : to_run) {
    const RunSpec& s = sweep.runs[i].spec;
    const std::string options = nlohmann::json(s.method_options).dump();
    const int64_t steps12 = s.is_accuracy() ? s.accuracy().steps1 + s.accuracy().steps2 : 0;
    std::vector<double> same, kind;
    std::vector<const Past*> same_src, kind_src;
    std::vector<double> stage0;
    for (const auto& p : history) {
      if (p.eval != s.eval() || p.preset != s.preset || p.threads != s.threads) continue;
      if (p.stage0 > 0 && p.steps0 > 0)  // per step, as stage 0s of other lengths may be asked for
        stage0.push_back(p.stage0 * static_cast<double>(s.is_accuracy() ? s.accuracy().steps0 : p.steps0) /
                         static_cast<double>(p.steps0));
      const double seconds = scaled_seconds(p, steps12);
      kind.push_back(seconds);
      kind_src.push_back(&p);
      if (p.method == s.method && p.options == options && p.block == s.block_k && p.ratio == s.ratio) {
        same.push_back(seconds);
        same_src.push_back(&p);
      }
    }
    if (kind.empty()) {
      ++e.unknown;
      continue;
    }
    e.seconds += median(same.empty() ? kind : same);
    for (const Past* p : same.empty() ? kind_src : same_src) used.insert(p);
    ++e.predicted;
    if (s.is_accuracy()) {
      const std::string cache = stage0_cache_path(s, cache_dir);
      auto [it, first] = stage0_needed.emplace(cache, false);
      if (first) it->second = !stage0_cache_problem(s, cache_dir).empty();  // absent, or trained by other code
      if (it->second && !stage0.empty()) stage0_cost[cache] = median(stage0);
    }
  }
  for (const auto& [cache, cost] : stage0_cost) e.seconds += cost;
  e.stage0 = stage0_cost.size();
  e.history = used.size();
  return e;
}

}  // namespace laco
