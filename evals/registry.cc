#include "evals/registry.h"

#include <set>

#include "evals/accuracy.h"
#include "evals/benchmark.h"
#include "evals/chat.h"
#include "evals/efficiency.h"
#include "evals/finetune.h"
#include "harness/base/error.h"
#include "harness/base/named.h"
#include "harness/model/presets.h"

namespace laco {
namespace {

// A sweep grid's budget (kBudgetSetting): stages 1 and 2 of a resolved
// accuracy run, as the section or the preset gives them, times the budget;
// stage 0, the pretrained model every method starts from, is not scaled.
// Applied here, to the resolved run, rather than in evals/accuracy.*: those
// files are stage-0 sources, whose hash every cached stage-0 model is keyed by.
void scale_accuracy_budget(RunSpec& spec, int64_t budget) {
  if (budget < 1) fail("budget: must be an integer >= 1, got {}", budget);
  auto& a = std::get<AccuracySettings>(spec.settings);
  for (auto [steps, name] : {std::pair{&a.steps1, "steps1"}, {&a.steps2, "steps2"}}) {
    if (*steps > kMaxTrainingSteps / budget)
      fail("budget {}: {} {} x {} is more than a stage may be given (allowed: at most {} steps)", budget, name, *steps,
           budget, kMaxTrainingSteps);
    *steps *= budget;
  }
}

EvaluationInfo accuracy_evaluation() {
  EvaluationInfo e;
  e.name = "accuracy";
  e.summary = "SynthVQA insertion protocol: stage 0 (cached), stage 1 (compressor + projector), stage 2 (all), "
              "exact-match accuracy per family";
  e.default_preset = AccuracyConfig().preset;
  e.presets = names_of(accuracy_presets());
  e.settings = accuracy_settings();
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    RunSpec spec = resolve_accuracy_config(accuracy_config(r, settings));
    int64_t budget = 1;
    take_setting(settings, kBudgetSetting, budget);
    if (budget != 1) scale_accuracy_budget(spec, budget);
    return spec;
  };
  e.budgets = true;
  e.group = [](const RunSpec&) { return std::string(); };
  e.units = [](const std::vector<RunSpec>& runs) {
    int64_t units = 0;
    for (const auto& r : runs) units += accuracy_units(r);
    return units;
  };
  // A run from a checkpoint has no stage 0 to share.
  e.shared_work = [](const RunSpec& r, const std::string& cache_dir) {
    if (!r.checkpoint.empty()) return std::make_pair(std::string(), int64_t{0});
    return std::make_pair(stage0_cache_path(r, cache_dir), r.accuracy().steps0);
  };
  e.shared_work_done = [](const RunSpec& r, const std::string& cache_dir) {
    return r.checkpoint.empty() && stage0_cache_problem(r, cache_dir).empty();
  };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    std::vector<RunRecord> records;
    for (const auto& r : runs) records.push_back(run_accuracy(r, context));
    return records;
  };
  e.encoder_depth = [](const std::string& preset, const std::string& checkpoint) {
    return run_model(checkpoint, find_accuracy_preset(preset).model).encoder.depth();
  };
  return e;
}

EvaluationInfo efficiency_evaluation() {
  EvaluationInfo e;
  e.name = "efficiency";
  e.summary = "latency, throughput, training step, memory and FLOPs on real model shapes, measured interleaved";
  e.default_preset = EfficiencyConfig().preset;
  e.presets = preset_names();
  e.settings = efficiency_settings();
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    return resolve_efficiency_config(efficiency_config(r, settings));
  };
  e.group = efficiency_group;
  e.rounds_setting = "reps";
  e.units = efficiency_units;
  e.shared_work = [](const RunSpec&, const std::string&) { return std::make_pair(std::string(), int64_t{0}); };
  e.shared_work_done = [](const RunSpec&, const std::string&) { return false; };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    return run_efficiency(runs, context.progress);
  };
  e.encoder_depth = [](const std::string& preset, const std::string& checkpoint) {
    return run_model(checkpoint, find_preset(preset).model).encoder.depth();
  };
  return e;
}

EvaluationInfo benchmark_evaluation() {
  EvaluationInfo e;
  e.name = "benchmark";
  e.summary = "a released LLaVA-OneVision checkpoint answers a benchmark file (MME, POPE, MMBench, TextVQA, ...), "
              "scored as lmms-eval scores the task; every question stored";
  e.default_preset = kBenchmarkPreset;
  e.presets = {kBenchmarkPreset};
  e.settings = benchmark_settings();
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    return resolve_benchmark_config(benchmark_config(r, settings));
  };
  e.group = [](const RunSpec&) { return std::string(); };
  e.units = [](const std::vector<RunSpec>& runs) {
    int64_t units = 0;
    for (const auto& r : runs) units += r.benchmark().questions;
    return units;
  };
  e.shared_work = [](const RunSpec&, const std::string&) { return std::make_pair(std::string(), int64_t{0}); };
  e.shared_work_done = [](const RunSpec&, const std::string&) { return false; };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    std::vector<RunRecord> records;
    for (const auto& r : runs) records.push_back(run_benchmark(r, context));
    return records;
  };
  e.encoder_depth = [](const std::string&, const std::string& checkpoint) -> int64_t {
    if (checkpoint.empty()) fail("--model: a benchmark run needs a released LLaVA-OneVision checkpoint folder");
    return ChatModel::encoder_depth(checkpoint);
  };
  return e;
}

EvaluationInfo finetune_evaluation() {
  EvaluationInfo e;
  e.name = "finetune";
  e.summary = "fine-tunes a released LLaVA-OneVision checkpoint with a method inside (LLaVA-OneVision's stages, "
              "LLaVA's loss), resumable, saved in the Hugging Face layout (laco train)";
  e.default_preset = kFinetunePreset;
  e.presets = {kFinetunePreset};
  e.settings = finetune_settings();
  e.resolve = [](const RunRequest& r, const nlohmann::json& settings) {
    return resolve_finetune_config(finetune_config(r, settings));
  };
  e.group = [](const RunSpec&) { return std::string(); };
  e.units = [](const std::vector<RunSpec>& runs) {
    int64_t units = 0;
    for (const auto& r : runs) units += r.finetune().steps;
    return units;
  };
  e.shared_work = [](const RunSpec&, const std::string&) { return std::make_pair(std::string(), int64_t{0}); };
  e.shared_work_done = [](const RunSpec&, const std::string&) { return false; };
  e.run = [](const std::vector<RunSpec>& runs, const RunContext& context) {
    std::vector<RunRecord> records;
    for (const auto& r : runs) records.push_back(run_finetune(r, context));
    return records;
  };
  e.encoder_depth = [](const std::string&, const std::string& checkpoint) -> int64_t {
    if (checkpoint.empty()) fail("--model: a fine-tune needs a LLaVA-OneVision checkpoint folder");
    return ChatModel::encoder_depth(checkpoint);
  };
  return e;
}

}  // namespace

std::vector<std::string> EvaluationInfo::section_keys() const {
  std::vector<std::string> keys = {"preset", "seeds"};
  for (const auto& s : settings) keys.push_back(s.key);
  return keys;
}

const std::vector<EvaluationInfo>& evaluation_registry() {
  static const std::vector<EvaluationInfo> registry = {accuracy_evaluation(), efficiency_evaluation(),
                                                              benchmark_evaluation(), finetune_evaluation()};
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
