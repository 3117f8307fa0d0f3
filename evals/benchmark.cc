#include "evals/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>

#include <fmt/format.h>

#include "evals/benchmark_data.h"
#include "evals/chat.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/interrupt.h"
#include "harness/base/progress.h"
#include "harness/base/threads.h"
#include "methods/registry.h"

namespace laco {

namespace {

/// The most tokens a question may generate: far beyond every task's YAML (lmms-eval's largest is 1024).
constexpr int64_t kMaxNewTokens = 32768;

// Fault injection for the kill-and-resume test (tests/test_benchmark.cc):
// LACO_FAULT_KILL_AFTER_QUESTIONS=N sends this process SIGKILL right after
// the N-th question this attempt committed, as a machine that dies would,
// with no handler, destructor or transaction end to run. Unset, nothing changes.
void inject_kill(int64_t committed_now) {
  const char* n = std::getenv("LACO_FAULT_KILL_AFTER_QUESTIONS");
  if (n && *n && committed_now == std::atoll(n)) ::raise(SIGKILL);
}

}  // namespace

double percentile(std::vector<double> values, double q) {
  if (values.empty()) fail("percentile: no values");
  std::sort(values.begin(), values.end());
  const double at = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(at));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (at - static_cast<double>(lo));
}

const std::vector<SettingInfo>& benchmark_settings() {
  using K = SettingKind;
  static const std::vector<SettingInfo> settings = [] {
    std::vector<std::string> tasks;
    for (const auto& t : task_registry()) tasks.push_back(t.name);
    return std::vector<SettingInfo>{
        {"task", K::kString, 0, 0, 0, 0, tasks, "Task type: how questions are prompted and scored (laco tasks)"},
        {"data", K::kString, 0, 0, 0, 0, {}, "Benchmark JSONL (docs/benchmarks.md)"},
        {"limit", K::kInteger, 0, 100000000, 0, 0, {}, "Answer the first N questions (0: all), as lmms-eval's --limit"},
        {"max_new_tokens", K::kInteger, 0, kMaxNewTokens, 0, 0, {}, "Generated tokens per question (0: the task's)"},
    };
  }();
  return settings;
}

BenchmarkConfig benchmark_config(const RunRequest& request, const nlohmann::json& settings) {
  auto c = request_as<BenchmarkConfig>(request);
  take_setting(settings, "task", c.task);
  take_setting(settings, "data", c.data);
  take_setting(settings, "limit", c.limit);
  take_setting(settings, "max_new_tokens", c.max_new_tokens);
  return c;
}

RunSpec resolve_benchmark_config(const BenchmarkConfig& c) {
  if (c.preset != kBenchmarkPreset)
    fail("--preset: a benchmark run's model is its checkpoint's, whole (allowed: {})", kBenchmarkPreset);
  if (c.model.empty())
    fail("--model: a benchmark run needs a released LLaVA-OneVision checkpoint folder (allowed: a folder with "
         "config.json, safetensors, tokenizer.json, a chat template and preprocessor_config.json)");
  if (c.task.empty()) fail("--task: a benchmark run needs a task type (allowed: {})", task_names());
  const TaskType& task = find_task(c.task, "--task");
  if (c.data.empty()) fail("--data: a benchmark run needs a benchmark JSONL (docs/benchmarks.md)");
  if (c.limit < 0) fail("--limit: must be >= 0, got {}", c.limit);
  if (c.max_new_tokens < 0 || c.max_new_tokens > kMaxNewTokens)
    fail("--max-new-tokens: must be in [0, {}], got {}", kMaxNewTokens, c.max_new_tokens);
  // The whole file, every image's presence and every field the task needs: an
  // input error is found here, before a run is claimed, never as a failed run.
  const Benchmark data = load_benchmark(c.data, c.task, c.limit);
  RunSpec spec = ChatModel::resolve(c);
  BenchmarkSettings b;
  b.task = task.name;
  b.data = c.data;
  b.data_sha256 = data.sha256;
  b.limit = c.limit;
  b.questions = static_cast<int64_t>(data.questions.size());
  b.max_new_tokens = c.max_new_tokens > 0 ? c.max_new_tokens : task.max_new_tokens;
  spec.settings = b;
  return spec;
}

void add_benchmark_metrics(RunRecord& rec, const std::vector<TaskQuestion>& questions) {
  const BenchmarkSettings& b = rec.spec.benchmark();
  const TaskType& task = find_task(b.task);
  if (questions.size() != rec.responses.size())
    fail("benchmark {}: {} questions for {} responses", b.task, questions.size(), rec.responses.size());
  std::vector<QuestionScore> scores;
  std::vector<double> prompt, visual, output, ttft, tpot;
  for (const Response& r : rec.responses) {
    scores.push_back({r.parsed, r.score, r.fields});
    if (r.prompt_tokens) prompt.push_back(static_cast<double>(*r.prompt_tokens));
    if (r.visual_tokens) visual.push_back(static_cast<double>(*r.visual_tokens));
    if (r.output_tokens) output.push_back(static_cast<double>(*r.output_tokens));
    if (r.ttft_ms) ttft.push_back(*r.ttft_ms);
    // One generated token has no time per output token.
    if (r.tpot_ms && r.output_tokens && *r.output_tokens > 1) tpot.push_back(*r.tpot_ms);
  }
  rec.add("score", 100.0 * lmms_mean(score_values(scores), b.task), "%");
  for (const TaskMetric& m : task.aggregate(questions, scores)) rec.add("task_" + m.name, m.value, "lmms-eval");
  rec.add("questions", static_cast<double>(rec.responses.size()), "questions");
  if (!visual.empty()) rec.add("visual_tokens", lmms_mean(visual, b.task), "tokens");
  if (!prompt.empty()) rec.add("prompt_tokens", lmms_mean(prompt, b.task), "tokens");
  if (!output.empty()) rec.add("output_tokens", lmms_mean(output, b.task), "tokens");
  for (int q : {50, 90, 99}) {
    if (!ttft.empty()) rec.add(fmt::format("ttft_p{}", q), percentile(ttft, q), "ms");
    if (!tpot.empty()) rec.add(fmt::format("tpot_p{}", q), percentile(tpot, q), "ms");
  }
}

RunRecord run_benchmark(const RunSpec& run, const RunContext& context) {
  const BenchmarkSettings& b = run.benchmark();
  const TaskType& task = find_task(b.task);
  Progress* progress = context.progress;
  const Benchmark data = load_benchmark(b.data, b.task, b.limit);
  if (data.sha256 != b.data_sha256)
    fail("{}: the benchmark file changed since the run was resolved (SHA-256 {} then, {} now); resolve the run again "
         "(a new run key)",
         b.data, b.data_sha256, data.sha256);
  if (static_cast<int64_t>(data.questions.size()) != b.questions)
    fail("{}: {} questions, the run was resolved with {}", b.data, data.questions.size(), b.questions);

  RunRecord rec;
  rec.spec = run;
  rec.provenance = Provenance::here("cpu");
  rec.provenance.started_at = utc_now();
  const auto wall0 = std::chrono::steady_clock::now();
  const std::string key = run.key();

  // An interrupted attempt's questions, where they are still this file's.
  std::map<int64_t, Response> done;
  if (context.journal) done = context.journal->committed(key);
  int64_t resumed = 0;
  for (auto it = done.begin(); it != done.end();) {
    const bool same = it->first >= 0 && it->first < b.questions && it->second.id == data.questions[it->first].question.id;
    if (same) ++resumed, ++it;
    else it = done.erase(it);
  }

  set_threads(run.threads);
  std::optional<ChatModel> model;
  if (resumed < b.questions) {
    if (progress) progress->note("loading " + run.checkpoint);
    model.emplace(ChatModel::load(request_of(run)));
    RunSpec loaded = model->spec();  // the method and checkpoint part; the settings are this run's
    loaded.settings = run.settings;
    if (loaded.key() != key)
      fail("benchmark: the loaded model resolves to run {}, not {} (the checkpoint or method changed)", loaded.key(),
           key);
    rec.facts = model->facts();
  }
  rec.facts["benchmark"] = {{"file", b.data}, {"sha256", b.data_sha256}, {"questions_in_file", data.total},
                            {"task", task.name}, {"lmms_eval", task.lmms_eval}};
  rec.facts["resumed_questions"] = resumed;
  // Said on the progress line (stdout may be the records' JSON); the record's facts keep the count.
  if (progress && resumed > 0)
    progress->advance(resumed, fmt::format("{} of {} questions answered by an interrupted attempt of this build",
                                           resumed, b.questions));

  const auto t_eval = std::chrono::steady_clock::now();
  std::vector<TaskQuestion> questions;
  int64_t committed_now = 0;
  for (int64_t i = 0; i < b.questions; ++i) {
    const BenchmarkQuestion& q = data.questions[i];
    questions.push_back(q.question);
    auto found = done.find(i);
    if (found != done.end()) {
      rec.responses.push_back(found->second);
      continue;
    }
    throw_if_interrupted();
    const ChatAnswer a = model->answer(q.image, task.prompt(q.question), b.max_new_tokens);
    Response r = scored_response(q.question, a.text, task.score(q.question, a.text));
    r.prompt_tokens = a.prompt_tokens;
    r.visual_tokens = a.visual_tokens;
    r.output_tokens = static_cast<int64_t>(a.generated_ids.size());
    r.ttft_ms = a.ttft_s * 1e3;
    r.tpot_ms = a.tpot_s * 1e3;
    if (context.journal) {
      context.journal->commit(key, i, r);
      inject_kill(++committed_now);
    }
    rec.responses.push_back(std::move(r));
    if (progress) progress->step(q.question.id);
  }
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();

  add_benchmark_metrics(rec, questions);
  rec.add("eval_time", eval_seconds, "s");
  rec.provenance.threads = describe_threads();
  rec.provenance.finished_at = utc_now();
  rec.provenance.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rec;
}

}  // namespace laco
