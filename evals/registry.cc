#include "evals/registry.h"

#include <set>

#include "evals/accuracy.h"
#include "evals/efficiency.h"
#include "harness/base/named.h"
#include "harness/model/presets.h"

namespace laco {
namespace {

EvaluationInfo accuracy_evaluation() {
  EvaluationInfo e;
  e.name = "accuracy";
  e.summary = "SynthVQA insertion protocol: stage 0 (cached), stage 1 (compressor + projector), stage 2 (all), "
              "exact-match accuracy per family";
  e.default_preset = AccuracyConfig().preset;
  e.presets = names_of(accuracy_presets());
  e.section_keys = {"preset", "seeds", "steps0", "steps1", "steps2", "stage0_seed", "train_data", "test_data"};
  e.parse_settings = parse_accuracy_settings;
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    return resolve_accuracy_config(accuracy_config(r, settings));
  };
  e.group = [](const RunSpec&) { return std::string(); };
  e.units = [](const std::vector<RunSpec>& runs) {
    int64_t units = 0;
    for (const auto& r : runs) units += accuracy_units(r);
    return units;
  };
  e.shared_work = [](const RunSpec& r, const std::string& cache_dir) {
    return std::make_pair(stage0_cache_path(r, cache_dir), r.accuracy().steps0);
  };
  e.shared_work_done = [](const RunSpec& r, const std::string& cache_dir) {
    return stage0_cache_problem(r, cache_dir).empty();
  };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    std::vector<RunRecord> records;
    for (const auto& r : runs) records.push_back(run_accuracy(r, context));
    return records;
  };
  e.encoder_depth = [](const std::string& preset) { return find_accuracy_preset(preset).model.encoder.depth(); };
  e.headline = {"acc_mean", "acc_overall", "visual_tokens"};
  return e;
}

EvaluationInfo efficiency_evaluation() {
  EvaluationInfo e;
  e.name = "efficiency";
  e.summary = "latency, throughput, training step, memory and FLOPs on real model shapes, measured interleaved";
  e.default_preset = EfficiencyConfig().preset;
  e.presets = preset_names();
  e.section_keys = {"preset", "seeds", "crops", "text_tokens", "batch", "train_batch", "warmup", "reps", "stages",
                    "device"};
  e.parse_settings = parse_efficiency_settings;
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    return resolve_efficiency_config(efficiency_config(r, settings));
  };
  e.group = efficiency_group;
  e.units = efficiency_units;
  e.shared_work = [](const RunSpec&, const std::string&) { return std::make_pair(std::string(), int64_t{0}); };
  e.shared_work_done = [](const RunSpec&, const std::string&) { return false; };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    return run_efficiency(runs, context.progress);
  };
  e.encoder_depth = [](const std::string& preset) { return find_preset(preset).model.encoder.depth(); };
  e.headline = {"train_step_time", "prefill_latency", "throughput", "encoder_latency"};
  return e;
}

}  // namespace

const std::vector<EvaluationInfo>& evaluation_registry() {
  static const std::vector<EvaluationInfo> registry = {accuracy_evaluation(), efficiency_evaluation()};
  return registry;
}

std::vector<std::string> evaluation_names() { return names_of(evaluation_registry()); }

const EvaluationInfo& find_evaluation(const std::string& name, const std::string& where) {
  return find_named(evaluation_registry(), name, "evaluation", where);
}

const EvaluationInfo& evaluation_of(const RunSpec& run) { return find_evaluation(run.eval()); }

int64_t expected_advances(const std::vector<RunSpec>& runs, const std::string& cache_dir) {
  std::set<std::string> seen;
  int64_t n = 0;
  for (const auto& r : runs) {
    const auto& info = evaluation_of(r);
    const auto [key, units] = info.shared_work(r, cache_dir);
    if (key.empty()) continue;
    if (!seen.insert(key).second || info.shared_work_done(r, cache_dir)) n += units;
  }
  return n;
}

}  // namespace laco
