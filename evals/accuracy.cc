#include "evals/accuracy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include <torch/torch.h>

#include "evals/vqa_data.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/json_check.h"
#include "harness/base/progress.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/presets.h"
#include "methods/registry.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

// Reads a user JSONL's text and image headers once per content in a process (load_vqa without the pixels).
void check_vqa_data(const std::string& data) {
  if (generated_data(data)) return;
  static std::mutex mutex;
  static std::set<std::string> checked;
  const std::string key = vqa_data_identity(data);
  const std::lock_guard<std::mutex> lock(mutex);
  if (checked.count(key)) return;
  load_vqa(data, false);
  checked.insert(key);
}

}  // namespace

RunSpec resolve_accuracy_config(const AccuracyConfig& c) {
  const auto& p = find_accuracy_preset(c.preset);
  find_method(c.method);
  if (c.threads < 1) fail("--threads: must be >= 1, got {}", c.threads);
  for (auto [v, f] : {std::pair{c.steps0, "--steps0"}, {c.steps1, "--steps1"}, {c.steps2, "--steps2"}})
    if (v < -1) fail("{}: must be >= 0, got {}", f, v);
  const MllmOptions model = run_model(c.model, p.model);
  RunSpec spec = resolve_method_placement(c, model);
  for (const auto* path : {&c.train_data, &c.test_data})
    if (!path->empty() && !fs::exists(*path)) fail("{}: no such file", *path);
  // The test data's lines and image headers too (the train data's: by its vocabulary, below): an input error is
  // found here, before a run is claimed, never as a failed run.
  check_vqa_data(c.test_data);
  if (!c.model.empty()) {
    if (c.steps0 > 0)
      fail("--steps0: a run from --model {} starts from the checkpoint's weights, so stage 0 does not run "
           "(allowed: 0 or unset)",
           c.model);
    // No tokenizer: the train data's words are ids 0..n-1 of the LM's vocabulary (a checkpoint's LM has its own).
    const int64_t words = train_vocabulary(c.train_data.empty() ? "synthvqa" : c.train_data).size();
    if (model.lm.vocab() < words)
      fail("--model {}: the LM's vocab_size {} is smaller than the train data's vocabulary of {} words (each word is "
           "one token id below {})",
           c.model, model.lm.vocab(), words, words);
  }
  auto pick = [](int64_t v, int64_t preset) { return v >= 0 ? v : preset; };
  AccuracySettings a;
  a.steps0 = pick(c.steps0, p.steps0);
  a.steps1 = pick(c.steps1, p.steps1);
  a.steps2 = pick(c.steps2, p.steps2);
  a.lr0 = p.lr0;
  a.lr1 = p.lr1;
  a.lr2 = p.lr2;
  a.curriculum = p.curriculum;
  a.batch = p.batch;
  a.train_data = c.train_data.empty() ? "synthvqa" : c.train_data;
  a.test_data = c.test_data.empty() ? "synthvqa" : c.test_data;
  a.test_size = p.test_size;
  a.stage0_seed = c.stage0_seed;
  if (!spec.checkpoint.empty()) a.steps0 = 0;
  spec.settings = a;
  // The identity of the resolved run's stage 0 (its seed: accuracy_data_seed()),
  // or of the checkpoint that replaces it.
  std::get<AccuracySettings>(spec.settings).stage0_key =
      spec.checkpoint.empty() ? stage0_identity(spec) : spec.checkpoint_sha256.substr(0, 16);
  return spec;
}

AccuracyConfig accuracy_config(const RunRequest& request, const nlohmann::json& settings) {
  auto c = request_as<AccuracyConfig>(request);
  take_setting(settings, "steps0", c.steps0);
  take_setting(settings, "steps1", c.steps1);
  take_setting(settings, "steps2", c.steps2);
  take_setting(settings, "stage0_seed", c.stage0_seed);
  take_setting(settings, "train_data", c.train_data);
  take_setting(settings, "test_data", c.test_data);
  return c;
}

const std::vector<SettingInfo>& accuracy_settings() {
  using K = SettingKind;
  static const std::vector<SettingInfo> settings = {
      {"steps0", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-0 steps"},
      {"steps1", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-1 steps"},
      {"steps2", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-2 steps"},
      {"stage0_seed", K::kInteger, 0, kMaxSeed, 0, 0, {}, "Share the stage-0 model (and data) of this seed across seeds"},
      {"train_data", K::kString, 0, 0, 0, 0, {}, "LLaVA-layout JSONL to train on instead of SynthVQA"},
      {"test_data", K::kString, 0, 0, 0, 0, {}, "LLaVA-layout JSONL to evaluate on instead of SynthVQA"},
  };
  return settings;
}

int64_t accuracy_units(const RunSpec& run) {
  const AccuracySettings& a = run.accuracy();
  return a.steps0 + a.steps1 + a.steps2 + 1;
}

RunRecord run_accuracy(const RunSpec& run, const RunContext& context) {
  const AccuracySettings& a = run.accuracy();
  Progress* progress = context.progress;
  // User data is read and checked in full before anything trains; the
  // vocabulary comes from the train data alone (train_vocabulary()).
  const VqaVocabulary& vocab = train_vocabulary(a.train_data);
  AccuracyPreset preset = find_accuracy_preset(run.preset);
  const MllmOptions model_options = run_model(run.checkpoint, accuracy_model(preset, vocab));
  // Images at the size the model's encoder takes (a checkpoint's may differ from the preset's).
  preset.data.image_size = model_options.encoder.image_size();
  std::vector<VqaSample> user_train, user_test;
  if (!generated_data(a.train_data)) user_train = load_vqa(a.train_data);
  if (!generated_data(a.test_data)) user_test = load_vqa(a.test_data);
  // One benchmark per pretrained model: with a shared stage 0 every seed sees
  // the data of the stage-0 seed, and the run's seed varies the method's
  // initialisation and the stage 1/2 batch order.
  const uint64_t data_seed = accuracy_data_seed(run);
  const VqaBatches train = vqa_split(preset, data_seed, "train", preset.train_size, std::move(user_train), vocab);
  const VqaBatches test = vqa_split(preset, data_seed, "test", a.test_size, std::move(user_test), vocab);

  set_threads(run.threads);
  RunRecord rec;
  rec.spec = run;
  rec.provenance = Provenance::here("cpu");
  rec.provenance.started_at = utc_now();
  const auto wall0 = std::chrono::steady_clock::now();
  auto step = [&](const std::string& what) {
    if (progress) progress->step(what);
  };

  rec.facts["vocabulary"] = vocab.summary();
  Mllm model = new_stage0_model(model_options, data_seed);
  // Evaluation runs without gradients, through the encoder's fused path.
  rec.facts["encoder_inference_kernels"] = encoder_inference_kernels(model->encoder->options());
  const int64_t steps1 = a.steps1, steps2 = a.steps2;

  double stage0_seconds = 0;
  if (!run.checkpoint.empty()) {
    // Released weights instead of stage 0: the pretrained MLLM the method goes into.
    rec.facts["checkpoint_load"] = load_run_checkpoint(*model, run);
    rec.facts["stage0"] = "none: the model starts from the checkpoint's weights";
  } else {
    stage0_seconds = pretrain_stage0(model, run, preset, train, context, rec);
  }

  // Insert the method after block k of the pretrained encoder, freshly
  // initialised (after the encoder, as the projector where its reference is one).
  torch::manual_seed(run.seed * 7919 + 1);
  insert_method(model, run);

  if (progress) progress->note("stage 1");
  const auto log1 = train_vqa(model, set_stage(model, 1), train, steps1, a.lr1, a.batch, preset.log_every,
                              run.seed * 3 + 1, progress, {}, 0, "stage 1");
  if (progress) progress->note("stage 2");
  const auto log2 = train_vqa(model, set_stage(model, 2), train, steps2, a.lr2, a.batch, preset.log_every,
                              run.seed * 3 + 2, progress, {}, 0, "stage 2");

  if (progress) progress->note("evaluation");
  const auto t_eval = std::chrono::steady_clock::now();
  VqaCoverage coverage;
  const auto acc = evaluate_vqa(model, test, 2 * a.batch, &rec.predictions, &coverage);
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();
  step("evaluation");
  // What the test split asks that training never showed: counted, not refused.
  rec.facts["unanswerable_test_questions"] = coverage.unanswerable;
  rec.facts["unknown_word_test_questions"] = coverage.unknown_words;
  if (coverage.unanswerable > 0) {
    std::vector<std::pair<int64_t, std::string>> by_count;
    for (const auto& [answer, n] : coverage.unanswerable_answers) by_count.emplace_back(-n, answer);
    std::sort(by_count.begin(), by_count.end());
    nlohmann::json listed = nlohmann::json::object();
    std::vector<std::string> shown;
    for (size_t i = 0; i < std::min<size_t>(20, by_count.size()); ++i) {
      listed[by_count[i].second] = -by_count[i].first;
      shown.push_back(fmt::format("'{}' ({})", by_count[i].second, -by_count[i].first));
    }
    rec.facts["unanswerable_test_answers"] = listed;
    if (progress)
      progress->print(fmt::format("{} of {} test questions have an answer no train sample has, scored wrong: {}{}",
                                  coverage.unanswerable, coverage.questions, join(shown),
                                  by_count.size() > shown.size()
                                      ? fmt::format(" and {} more answers", by_count.size() - shown.size())
                                      : ""));
  }

  for (const auto& family : vqa_families())
    if (acc.count(family)) rec.add("acc_" + family, acc.at(family), "%");
  for (const auto& [family, value] : acc)
    if (family != "overall" && family != "mean" &&
        std::find(vqa_families().begin(), vqa_families().end(), family) == vqa_families().end())
      rec.add("acc_" + family, value, "%");
  rec.add("acc_overall", acc.at("overall"), "%");
  rec.add("acc_mean", acc.at("mean"), "%");
  rec.add("visual_tokens", static_cast<double>(model->visual_tokens(1)), "tokens");
  rec.add("stage1_final_loss", log1.final_loss, "nats");
  rec.add("stage2_final_loss", log2.final_loss, "nats");
  rec.add("stage0_time", stage0_seconds, "s");
  rec.add("stage1_time", log1.seconds, "s");
  rec.add("stage2_time", log2.seconds, "s");
  rec.add("eval_time", eval_seconds, "s");
  for (const auto& [s, v] : log1.loss) rec.series["loss_stage1"].emplace_back(s, v);
  for (const auto& [s, v] : log2.loss) rec.series["loss_stage2"].emplace_back(s, v);

  rec.provenance.threads = describe_threads();
  rec.provenance.finished_at = utc_now();
  rec.provenance.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rec;
}

}  // namespace laco
