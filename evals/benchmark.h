// `laco run --eval benchmark`: a released LLaVA-OneVision checkpoint answers
// a benchmark file's questions (evals/benchmark_data.h) greedily, with any
// method inserted where `laco run` places it (evals/chat.h), and each answer
// is scored as lmms-eval scores the task (harness/score/task.h). Every
// question is stored (evals/response.h) and committed to the run's journal
// as it finishes, so a killed run continues at the next question; the run is
// done only when every question is in. Its latency percentiles come from the
// same answers as its score: one run, one code path for both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"
#include "harness/score/task.h"

namespace laco {

/// The benchmark evaluation's one preset: the model is the checkpoint's, whole.
inline constexpr const char* kBenchmarkPreset = "released";

/// What a benchmark run asks for beyond the common request (`model` is required).
/// Usage: BenchmarkConfig c; c.model = "ov/"; c.task = "mme"; c.data = "mme.jsonl"; resolve_benchmark_config(c);
struct BenchmarkConfig : RunRequest {
  BenchmarkConfig() { preset = kBenchmarkPreset; }
  std::string task;  ///< a task type (laco tasks)
  std::string data;  ///< the benchmark JSONL
  int64_t limit = 0;           ///< the first N questions (0: all)
  int64_t max_new_tokens = 0;  ///< 0: the task's (lmms-eval's YAML)
};

/// Checks everything (the checkpoint's parts, method, placement, ratio, the
/// whole benchmark file and its images' presence) before anything runs.
RunSpec resolve_benchmark_config(const BenchmarkConfig& config);
/// The request from its generic form: the common part and a spec section's
/// settings (task, data, limit, max_new_tokens).
BenchmarkConfig benchmark_config(const RunRequest& request, const nlohmann::json& settings);
/// Those settings, each described once (evals/settings.h).
const std::vector<SettingInfo>& benchmark_settings();

/// Answers, scores and summarises the run's questions; with a journal, the
/// questions an interrupted attempt of this build committed are taken as
/// they are and only the rest are answered.
RunRecord run_benchmark(const RunSpec& run, const RunContext& context = {});

/// The percentile q (0..100) of `values` by linear interpolation between
/// order statistics (NumPy's default, "linear"); an Error for no values.
double percentile(std::vector<double> values, double q);

/// The run's metrics from its responses (score, the task's aggregates over
/// `questions`, which are the responses' questions in order, token counts,
/// TTFT/TPOT percentiles): the one summary of native and imported runs.
/// Costs absent from every response (imported) give no metric.
void add_benchmark_metrics(RunRecord& record, const std::vector<TaskQuestion>& questions);

}  // namespace laco
