// The metric registry (evals/metrics.h): every metric a run stores, now or in
// the databases of earlier schema versions, has one entry with the unit it is
// stored in; families match what they should and nothing else; the default
// views are the lists the harness showed before the registry existed.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "evals/accuracy.h"
#include "evals/benchmark.h"
#include "evals/efficiency.h"
#include "evals/finetune.h"
#include "evals/metrics.h"
#include "evals/registry.h"
#include "evals/synthvqa.h"
#include "results/sqlite.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

// Every metric of `r` has an entry of its evaluation with its unit; samples belong to timings.
void expect_registered(const RunRecord& r) {
  for (const auto& m : r.metrics) {
    const MetricInfo* info = lookup_metric(m.name, r.eval());
    if (!info) {
      ADD_FAILURE() << r.eval() << " metric " << m.name << " (" << m.unit << ") has no entry in evals/metrics.cc";
      continue;
    }
    EXPECT_EQ(info->unit, m.unit) << m.name << " is stored in " << m.unit << ", its entry " << info->name << " says "
                                  << info->unit;
    EXPECT_EQ(info->statistic == Statistic::kTiming, r.samples.count(m.name) == 1)
        << m.name << ": a timing has its repetitions stored, and only a timing";
    if (!info->model_of(m.name).empty())
      EXPECT_TRUE(r.value(info->model_of(m.name)).has_value()) << m.name << "'s model " << info->model_of(m.name);
  }
}

TEST(Metrics, EveryMetricOfAnEfficiencyRunWithEveryStageHasAnEntry) {
  EfficiencyConfig c;
  c.preset = "tiny";
  c.method = "laco";
  c.layer = "1/4";
  c.warmup = 0;
  c.reps = 2;
  const auto records = run_efficiency({resolve_efficiency_config(c)}, nullptr);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_GT(records[0].metrics.size(), 80u) << "every stage, decode included";
  expect_registered(records[0]);
}

TEST(Metrics, EveryMetricOfAnAccuracyRunHasAnEntry) {
  const std::string dir = test::temp_dir("metrics_accuracy");
  AccuracyConfig c;
  c.preset = "tiny";
  c.method = "laco";
  c.layer = "1/2";
  c.steps0 = 4;
  c.steps1 = 1;
  c.steps2 = 1;
  const RunRecord r = run_accuracy(resolve_accuracy_config(c), {nullptr, dir + "/cache"});
  for (const auto& f : vqa_families()) EXPECT_TRUE(r.value("acc_" + f).has_value()) << f;
  expect_registered(r);
}

TEST(Metrics, EveryMetricOfABenchmarkRunHasAnEntry) {
  const std::string dir = test::temp_dir("metrics_benchmark");
  fs::copy_file(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png", dir + "/a.png");
  test::write_file(dir + "/pope.jsonl",
                   R"({"id": "1", "image": "a.png", "question": "Is there a dog in the image?", "answer": "yes"})"
                   "\n"
                   R"({"id": "2", "image": "a.png", "question": "Is there a cat in the image?", "answer": "no"})"
                   "\n");
  BenchmarkConfig c;
  c.model = test::chat_checkpoint();
  c.method = "laco";
  c.allow_untrained = true;  // the metrics are under test, not the method's training
  c.task = "pope";
  c.data = dir + "/pope.jsonl";
  c.max_new_tokens = 3;
  const RunRecord r = run_benchmark(resolve_benchmark_config(c));
  for (const char* m : {"score", "task_pope_f1_score", "questions", "visual_tokens", "ttft_p50", "tpot_p99"})
    EXPECT_TRUE(r.value(m).has_value()) << m;
  expect_registered(r);
}

TEST(Metrics, EveryMetricOfAFineTuneHasAnEntry) {
  const std::string dir = test::temp_dir("metrics_finetune");
  FinetuneConfig c;
  c.model = test::chat_checkpoint();
  c.method = "laco";
  c.layer = "block:2";
  c.data = LACO_SOURCE_DIR "/tests/finetune/conversations.jsonl";
  c.out = dir + "/out";
  c.stage = 1;
  c.accumulation = 3;
  c.max_length = 120;
  c.threads = 1;
  const RunRecord r = run_finetune(resolve_finetune_config(c));
  for (const char* m : {"final_loss", "first_loss", "steps", "step_time_p50", "peak_rss", "trainable_params"})
    EXPECT_TRUE(r.value(m).has_value()) << m;
  EXPECT_EQ(r.series.at("loss").size(), 2u);
  expect_registered(r);
}

// The databases of schema versions 1 and 2 hold metrics no longer written
// the same way; every one of them still has an entry with its stored unit.
TEST(Metrics, EveryMetricOfTheEarlierSchemaFixturesHasAnEntry) {
  size_t checked = 0;
  for (const char* name : {"v1_runs.db", "v2_runs.db"}) {
    sql::Connection db((fs::path(LACO_FIXTURES_DIR) / name).string(), sql::Connection::Mode::kImmutable);
    auto q = db.prepare("SELECT DISTINCT r.eval, m.name, m.unit FROM metrics m JOIN runs r ON r.key = m.run_key");
    while (q.step()) {
      const std::string eval = q.text(0), metric = q.text(1), unit = q.text(2);
      const MetricInfo* info = lookup_metric(metric, eval);
      ASSERT_NE(info, nullptr) << name << ": " << eval << " metric " << metric << " has no entry";
      EXPECT_EQ(info->unit, unit) << name << ": " << metric;
      ++checked;
    }
  }
  EXPECT_GT(checked, 60u);
}

TEST(Metrics, FamiliesMatchTheirInstancesAndNothingElse) {
  const MetricInfo& latency = metric_info("decode_latency_16", "efficiency");
  EXPECT_EQ(latency.name, "decode_latency_{n}");
  EXPECT_EQ(metric_info("decode_latency_16_batch", "efficiency").name, "decode_latency_{n}_batch");
  EXPECT_EQ(metric_info("decode_latency_16_min", "efficiency").name, "decode_latency_{n}_min");
  EXPECT_FALSE(latency.matches("decode_latency_"));
  EXPECT_FALSE(latency.matches("decode_latency_x"));
  EXPECT_FALSE(latency.matches("decode_latency_16_batch"));
  EXPECT_EQ(lookup_metric("decode_latency_abc"), nullptr);
  EXPECT_EQ(metric_info("acc_color", "accuracy").name, "acc_{family}");
  EXPECT_EQ(metric_info("acc_my_own_family", "accuracy").name, "acc_{family}") << "a user data set's families";
  EXPECT_EQ(metric_info("acc_mean", "accuracy").name, "acc_mean") << "a name before a family";
  EXPECT_EQ(lookup_metric("acc_color", "efficiency"), nullptr) << "an accuracy metric only";
  EXPECT_EQ(metric_info("visual_tokens", "accuracy").eval, "accuracy");
  EXPECT_EQ(metric_info("visual_tokens", "efficiency").eval, "efficiency");
  test::expect_error([] { metric_info("no_such_metric"); }, {"no_such_metric", "evals/metrics.cc", "laco metrics"});

  // The model that predicts a timing, its placeholder filled.
  EXPECT_EQ(metric_info("train_step_time").model_of("train_step_time"), "flops_train_step");
  EXPECT_EQ(metric_info("train_step_time_frozen_encoder").model_of("train_step_time_frozen_encoder"),
            "flops_train_step_frozen_encoder");
  EXPECT_EQ(metric_info("decode_tpot_256").model_of("decode_tpot_256"), "bytes_decode_step_256");
  EXPECT_EQ(metric_info("decode_latency_256").model_of("decode_latency_256"), "");
  EXPECT_EQ(metric_info("prefill_latency").model_of("prefill_latency"), "flops_prefill");

  // What the report reads: a timing, an allocator peak, a count.
  const MetricInfo& step = metric_info("train_step_time");
  EXPECT_EQ(step.statistic, Statistic::kTiming);
  EXPECT_EQ(step.better, Better::kLower);
  EXPECT_TRUE(step.spread() && !step.exact());
  const MetricInfo& peak = metric_info("train_peak_tensor");
  EXPECT_TRUE(peak.spread() && peak.exact());
  const MetricInfo& kv = metric_info("kv_cache_256");
  EXPECT_TRUE(!kv.spread() && kv.exact());
  EXPECT_EQ(metric_info("acc_mean").statistic, Statistic::kAccuracy);
}

// Names are unique within an evaluation, and so are a view's ranks.
TEST(Metrics, EntriesAndViewRanksAreUnique) {
  std::set<std::pair<std::string, std::string>> names;
  std::map<std::pair<std::string, int>, std::string> ranks[3];
  for (const auto& m : metric_registry()) {
    EXPECT_TRUE(names.insert({m.eval, m.name}).second) << m.eval << " " << m.name << " twice";
    EXPECT_FALSE(m.description.empty()) << m.name;
    const auto evals = evaluation_names();
    EXPECT_NE(std::find(evals.begin(), evals.end(), m.eval), evals.end()) << m.name;
    const int r[3] = {m.headline, m.run_table, m.query};
    for (int v = 0; v < 3; ++v)
      if (r[v] != 0) EXPECT_TRUE(ranks[v].insert({{m.eval, r[v]}, m.name}).second) << m.name << " view " << v;
    if (!m.model.empty()) EXPECT_NE(lookup_metric(m.model, m.eval), nullptr) << m.name << "'s model " << m.model;
  }
}

// The default views are the lists laco showed before they were read from the registry.
TEST(Metrics, TheDefaultViewsAreTheListsTheCommandsShowed) {
  using V = std::vector<std::string>;
  EXPECT_EQ(view_metrics(MetricView::kRunTable, "accuracy"),
            (V{"acc_color", "acc_shape", "acc_count", "acc_spatial", "acc_text", "acc_overall", "acc_mean",
               "visual_tokens", "stage1_time", "stage2_time"}));
  EXPECT_EQ(view_metrics(MetricView::kRunTable, "efficiency"),
            (V{"visual_tokens", "encoder_latency", "prefill_latency", "throughput", "train_step_time",
               "inference_peak_tensor", "train_peak_tensor", "flops_train_step"}));
  EXPECT_EQ(view_metrics(MetricView::kRunTable, "efficiency", {16, 256}),
            (V{"visual_tokens", "encoder_latency", "prefill_latency", "throughput", "train_step_time",
               "inference_peak_tensor", "train_peak_tensor", "flops_train_step", "decode_tpot_256",
               "decode_latency_16", "decode_latency_256", "max_batch_256"}));
  EXPECT_EQ(view_metrics(MetricView::kQuery),
            (V{"acc_color", "acc_shape", "acc_count", "acc_spatial", "acc_text", "acc_overall", "acc_mean",
               "visual_tokens", "encoder_latency", "prefill_latency", "throughput", "train_step_time",
               "train_peak_tensor", "score", "ttft_p50", "questions", "final_loss", "step_time_p50"}));
  EXPECT_EQ(view_metrics(MetricView::kHeadline, "accuracy"), (V{"acc_mean", "acc_overall", "visual_tokens"}));
  EXPECT_EQ(view_metrics(MetricView::kHeadline, "efficiency"),
            (V{"train_step_time", "prefill_latency", "throughput", "encoder_latency"}));
  EXPECT_EQ(view_metrics(MetricView::kRunTable, "benchmark"),
            (V{"score", "visual_tokens", "ttft_p50", "ttft_p90", "tpot_p50", "questions"}));
  EXPECT_EQ(view_metrics(MetricView::kHeadline, "benchmark"), (V{"score", "visual_tokens", "ttft_p50"}));
  EXPECT_EQ(view_metrics(MetricView::kRunTable, "finetune"), (V{"final_loss", "steps", "step_time_p50", "peak_rss"}));
  EXPECT_EQ(view_metrics(MetricView::kHeadline, "finetune"), (V{"final_loss", "step_time_p50", "peak_rss"}));
}

}  // namespace
}  // namespace laco
