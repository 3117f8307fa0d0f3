// SynthVQA training and scoring: the batches, the stages' trainable
// parameters, the draw of train samples, the training loop, the scoring, and
// stage 0's training. A stage-0 source (CMakeLists.txt, LACO_STAGE0_SOURCES):
// this code decides stage 0's weights, so editing it retrains cached stage 0s;
// the protocol around it (evals/accuracy.h) and the cache (evals/stage0.h) do not.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "evals/accuracy_presets.h"
#include "evals/run_record.h"
#include "evals/run_spec.h"
#include "evals/synthvqa.h"
#include "evals/vqa_vocabulary.h"
#include "harness/model/mllm.h"

namespace laco {

class Progress;

/// Whether a data setting means generated SynthVQA ("" or "synthvqa") rather than a JSONL file.
bool generated_data(const std::string& data);
/// Stage 0's family mix: the preset's on generated data; user data is drawn as it is.
std::vector<double> stage0_mix(const AccuracyPreset& preset, const std::string& train_data);

/// The preset's model with the LM sized to `vocab` (it depends on the train data).
MllmOptions accuracy_model(const AccuracyPreset& preset, const VqaVocabulary& vocab);
/// The vocabulary a run trains with: SynthVQA's for generated data ("" or
/// "synthvqa"), else built from the train JSONL's text (VqaVocabulary::from_samples;
/// its problems are an Error naming file and line). Test data never adds to
/// it: its words unseen in train read as <unk>, its answers unseen in train
/// are scored wrong. Built once per file content in a process.
const VqaVocabulary& train_vocabulary(const std::string& train_data);


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

/// A split of a run's data: the `user` samples when there are some (a
/// JSONL's), else `size` generated SynthVQA samples of `split` drawn from `seed`.
VqaBatches vqa_split(const AccuracyPreset& preset, uint64_t seed, const std::string& split, int64_t size,
                     std::vector<VqaSample> user, const VqaVocabulary& vocab);

/// The MLLM of stage 0, its weights drawn from `seed` (the run's data seed).
Mllm new_stage0_model(const MllmOptions& options, uint64_t seed);
/// Trains stage 0 of `run` on `train`: all trainable, the preset's
/// curriculum and family mix, seeded by `seed`. `on_log` as in train_vqa.
TrainLog train_stage0(Mllm& model, const RunSpec& run, const AccuracyPreset& preset, const VqaBatches& train,
                      uint64_t seed, Progress* progress, const std::function<void(int64_t)>& on_log);

}  // namespace laco
