// `laco run --eval accuracy`: the compressor-insertion protocol on SynthVQA.
// Stage 0 (cached on disk by a hash of its configuration): train the
// uncompressed MLLM. Per run: insert the method after block k of that
// pretrained encoder; stage 1 trains the compressor and projector only;
// stage 2 trains everything; then exact-match accuracy per family on test.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"
#include "evals/synthvqa.h"
#include "evals/vqa_vocabulary.h"
#include "harness/model/compressor.h"
#include "harness/model/mllm.h"

namespace laco {

class JsonChecker;
class Progress;

struct AccuracyPreset {
  std::string name, summary;
  SynthVqaOptions data;
  /// lm.vocab is SynthVQA's vocabulary size; a run's model takes its own vocabulary's (accuracy_model()).
  MllmOptions model;
  int64_t train_size = 0, test_size = 0;
  int64_t batch = 32;
  int64_t steps0 = 0, steps1 = 0, steps2 = 0;
  double lr0 = 1e-3, lr1 = 1e-3, lr2 = 3e-4;
  int64_t question_tokens = 12;
  /// Stage 0 introduces the families one by one over this fraction of its steps (0: all at once).
  double curriculum = 0.5;
  /// Stage 0's mix on generated data: a family's samples are drawn with this
  /// relative weight (vqa_families() order, all > 0; empty: as generated, one
  /// in five each). A family learnt early gives little gradient; its share of
  /// the batch is better spent on the ones still learning.
  std::vector<double> stage0_mix;
  int64_t log_every = 10;  ///< loss curve sampling, in steps
  int64_t val_size = 250;  ///< validation samples scored during stage 0
  int64_t val_points = 10; ///< how many times stage 0 is scored on them
};

/// tiny (tests), small (2 CPU cores), base (a GPU).
const std::vector<AccuracyPreset>& accuracy_presets();
const AccuracyPreset& find_accuracy_preset(const std::string& name);
std::string format_accuracy_presets();

/// The preset's model with the LM sized to `vocab` (it depends on the train data).
MllmOptions accuracy_model(const AccuracyPreset& preset, const VqaVocabulary& vocab);
/// The vocabulary a run trains with: SynthVQA's for generated data ("" or
/// "synthvqa"), else built from the train JSONL's text (VqaVocabulary::from_samples;
/// its problems are an Error naming file and line). Test data never adds to
/// it: its words unseen in train read as <unk>, its answers unseen in train
/// are scored wrong. Built once per file content in a process.
const VqaVocabulary& train_vocabulary(const std::string& train_data);

/// The most steps a training stage may be given (a spec's steps0..steps2):
/// days of CPU time per run; more is a typo.
constexpr int64_t kMaxTrainingSteps = 10000000;

/// What an accuracy run asks for beyond the common request.
/// Usage: AccuracyConfig c; c.preset = "tiny"; run_accuracy(resolve_accuracy_config(c), {nullptr, "results/cache"});
struct AccuracyConfig : RunRequest {
  AccuracyConfig() { preset = "small"; }
  // -1 takes the preset's value.
  int64_t steps0 = -1, steps1 = -1, steps2 = -1;
  /// >= 0: every seed's run inserts its method into the one stage-0 model of
  /// this seed (and uses its data), as a paper inserts compressors into one
  /// pretrained model; -1: each seed trains its own stage 0.
  int64_t stage0_seed = -1;
  std::string train_data;  ///< LLaVA-layout JSONL instead of generated train data
  std::string test_data;   ///< ... instead of the generated test split
};

/// Checks everything (preset, method, placement, ratio, data files) before any training.
RunSpec resolve_accuracy_config(const AccuracyConfig& config);
/// The request from its generic form: the common part and the settings of a
/// spec's accuracy section (steps0, steps1, steps2, train_data, test_data).
AccuracyConfig accuracy_config(const RunRequest& request, const nlohmann::json& settings);
/// Those settings, each described once (evals/settings.h).
const std::vector<SettingInfo>& accuracy_settings();

RunRecord run_accuracy(const RunSpec& run, const RunContext& context = {});
/// The seed of a run's stage 0 and data: its stage0_seed when shared, else its own seed.
uint64_t accuracy_data_seed(const RunSpec& run);
/// Progress units of a run: one per training step of the three stages (a
/// cached stage 0 counts as done at once) and one for the evaluation, so that
/// the ETA weighs a 2000-step stage 0 as what it is.
int64_t accuracy_units(const RunSpec& run);

// The protocol's parts, exposed for tests.

/// A batch source: generated SynthVQA (by index) or a loaded sample list,
/// read through the run's vocabulary (which must outlive it).
class VqaBatches {
 public:
  VqaBatches(const AccuracyPreset& preset, uint64_t seed, const std::string& split, int64_t size,
             const VqaVocabulary& vocab = VqaVocabulary::synthvqa());
  VqaBatches(const AccuracyPreset& preset, std::vector<VqaSample> samples, const VqaVocabulary& vocab);
  int64_t size() const { return size_; }
  const VqaVocabulary& vocabulary() const { return *vocab_; }
  VqaSample sample(int64_t index) const;
  /// The family of sample `index` (cheap: generated samples are not drawn).
  std::string family(int64_t index) const;
  struct Batch {
    /// answers: the answer's id, -1 when no train sample has that answer (it cannot be predicted).
    torch::Tensor images, ids, answers;
    /// [batch, vocab] bool: the answers a sample is scored among (VqaVocabulary::candidates of its family).
    torch::Tensor candidates;
    std::vector<std::string> families;
    std::vector<std::string> question_ids, answer_words;
  };
  Batch batch(const std::vector<int64_t>& indices) const;

 private:
  const AccuracyPreset* preset_;
  const VqaVocabulary* vocab_;
  uint64_t seed_ = 0;
  std::string split_;
  int64_t size_ = 0;
  std::vector<VqaSample> samples_;
};

/// Stage 1: everything but the compressor and the projector frozen; stages 0 and 2: all trainable.
/// Returns the trainable parameters.
std::vector<torch::Tensor> set_stage(Mllm& model, int stage);

struct TrainLog {
  std::vector<std::pair<int64_t, double>> loss;  ///< (step, mean loss since the last point)
  double final_loss = 0;
  double seconds = 0;
};
/// How many families (in vqa_families() order) stage 0 draws from at `step`.
int64_t curriculum_families(int64_t step, int64_t steps, double curriculum);

/// The train samples each step takes: a shuffled order, shuffled again at
/// every epoch; of it, only the families allowed yet (curriculum_families()),
/// and of those each sample of family f with probability mix[f] / max(mix), so
/// that a batch holds the families in proportion to `mix` (empty: every
/// sample; samples of a family SynthVQA does not have are always taken).
/// Usage: TrainDraw draw(data, seed, {1, 2, 1, 1, 3}); auto indices = draw.next(32, 5);
class TrainDraw {
 public:
  TrainDraw(const VqaBatches& data, uint64_t seed, std::vector<double> mix = {});
  std::vector<int64_t> next(int64_t batch, int64_t allowed_families);

 private:
  const VqaBatches* data_;
  std::mt19937_64 rng_;
  std::vector<int64_t> order_;
  size_t cursor_ = 0;
  std::vector<double> keep_;  ///< per family: mix[f] / max(mix)
};

/// AdamW with warm-up and cosine decay, gradient norm clipped at 1.
/// `on_log(step)` runs (untimed for the caller's purposes) at every loss sample.
/// `curriculum` > 0 introduces the families one by one (see curriculum_families());
/// `mix` weighs them (TrainDraw).
TrainLog train_vqa(Mllm& model, const std::vector<torch::Tensor>& params, const VqaBatches& data, int64_t steps,
                   double lr, int64_t batch, int64_t log_every, uint64_t seed, Progress* progress = nullptr,
                   const std::function<void(int64_t)>& on_log = {}, double curriculum = 0,
                   const std::string& stage = "training", const std::vector<double>& mix = {});
/// What an evaluated split holds that the train data did not.
struct VqaCoverage {
  int64_t questions = 0;
  /// Questions whose answer no train sample has: scored wrong (the model cannot give it).
  int64_t unanswerable = 0;
  std::map<std::string, int64_t> unanswerable_answers;  ///< answer -> its questions
  /// Questions with a word no train question has (read as <unk>).
  int64_t unknown_words = 0;
};

/// Exact-match accuracy per family, "overall" (all samples) and "mean" (of
/// the families), in percent; with `predictions`, every question's outcome in
/// the data's order; with `coverage`, what the train data lacked.
std::map<std::string, double> evaluate_vqa(Mllm& model, const VqaBatches& data, int64_t batch,
                                           std::vector<Prediction>* predictions = nullptr,
                                           VqaCoverage* coverage = nullptr);

/// The stage-0 cache file of a run in `cache_dir`: named by the SHA-256 of
/// the configuration stage 0 depends on (preset, model, data, steps, seed,
/// and for user train data its vocabulary's size and SHA-256).
std::string stage0_cache_path(const RunSpec& run, const std::string& cache_dir);
/// Why that file cannot be reused ("" when it can; "absent" when there is
/// none): its stored key must equal the configuration plus this build's code
/// identity (stage0_sources_sha256() and the LibTorch version), else the
/// answer names what differs. A file that cannot be reused is trained again
/// and replaced, and the run says why (its `stage0_retrained` fact and a log line).
std::string stage0_cache_problem(const RunSpec& run, const std::string& cache_dir);

}  // namespace laco
