// `laco train` (`laco run --eval finetune`): fine-tunes a released
// LLaVA-OneVision checkpoint with a method inserted, as LLaVA-OneVision's
// training code does (LLaVA-NeXT, scripts/train/pretrain_siglip.sh and
// finetune_ov.sh, llava/train/train.py and llava_trainer.py at df17966), on
// the folder's real tokenizer, chat template and image processor, and saves
// the result in the Hugging Face layout with the method's weights inside
// (harness/model/checkpoint_save.h), which `--model` then loads for `laco
// generate`, benchmark and efficiency runs. docs/training.md has the recipe
// with each choice's source.
//
//   stage 1  the method and the projector train (mm_tunable_parts
//            "mm_mlp_adapter"); the vision tower and the LM are frozen
//   stage 2  the LM and image_newline train too ("mm_language_model"); with
//            train_encoder "after" the vision blocks after the method, "all"
//            the whole tower ("mm_vision_tower"), at vision_lr
//
// The loss is LLaVA's (harness/text/conversation.h labels; the image's tokens
// -100; Qwen2ForCausalLM's shifted mean cross-entropy), one conversation per
// micro-batch, `accumulation` micro-batches per optimizer step (each
// conversation's mean loss / accumulation, as transformers' Trainer at
// LLaVA-NeXT's pinned version sums them), then clip_grad_norm_ and AdamW
// (harness/model/adamw.h) at warm-up + cosine. A conversation the cut leaves
// without a supervised label adds nothing (LLaVA would add NaN).
//
// Resumable: every `save_every` steps the trainable weights, the optimizer
// state and the run's counters go to OUT.resume/step-N (then `latest` names
// it, written atomically), so a SIGKILL at any moment loses at most the
// steps since; the rerun continues there and ends at the parameters an
// uninterrupted run reaches. The data order is a function of the seed and
// the epoch (splitmix64 Fisher-Yates), and nothing else draws random
// numbers, so the step number is all the position there is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"

namespace laco {

class AdamW;
struct ChatFolder;
struct FinetuneExample;

/// The fine-tune evaluation's one preset: the model is the checkpoint's, whole.
inline constexpr const char* kFinetunePreset = "released";

/// What a fine-tune asks for beyond the common request (`model`, `data` and
/// `out` are required); numbers left 0 (-1 for the ratios) take the stage's
/// defaults (finetune_settings() says which).
struct FinetuneConfig : RunRequest {
  FinetuneConfig() { preset = kFinetunePreset; }
  std::string data, image_folder, out;
  int64_t stage = 1;
  std::string train_encoder = "none";
  int64_t epochs = 1, steps = 0, accumulation = 0, max_length = 0, save_every = 100;
  double lr = 0, projector_lr = 0, compressor_lr = 0, vision_lr = 0;
  double weight_decay = 0, warmup_ratio = 0.03, max_grad_norm = 1.0;
  std::string shuffle = "true", activation_checkpointing = "true";
};

const std::vector<SettingInfo>& finetune_settings();
FinetuneConfig finetune_config(const RunRequest& request, const nlohmann::json& settings);
/// Checks the folder, the method, the whole conversation file and every
/// setting before anything is built.
RunSpec resolve_finetune_config(const FinetuneConfig& config);
/// Trains, resuming from OUT.resume when an interrupted attempt left a
/// checkpoint of this run and build there, then saves OUT.
RunRecord run_finetune(const RunSpec& run, const RunContext& context = {});

/// One optimizer step's account.
struct FinetuneStep {
  double loss = 0;       ///< the mean of its supervised conversations' losses (what transformers logs)
  double grad_norm = 0;  ///< before clipping
  double lr_factor = 0;  ///< the schedule's multiplier it ran at
  int64_t conversations = 0, supervised = 0, positions = 0;
  int64_t truncated = 0;     ///< of its conversations, cut at max_length
  int64_t unsupervised = 0;  ///< of its conversations, left without a supervised label by the cut
  double seconds = 0;
};

/// The fine-tune's model, data and optimizer, one step at a time:
/// run_finetune drives it; the tests step it and compare with the Python
/// reference. Usage: Finetuner f(spec); while (f.step() < f.steps()) f.train_step(); f.save(out);
class Finetuner {
 public:
  explicit Finetuner(const RunSpec& run);
  ~Finetuner();
  Finetuner(const Finetuner&) = delete;
  Finetuner& operator=(const Finetuner&) = delete;

  int64_t steps() const;  ///< the run's optimizer steps
  int64_t step() const;   ///< the steps taken
  /// The conversation (index in the file) micro-batch `m` of the run takes.
  int64_t conversation_of(int64_t micro_batch) const;
  /// Conversation `index` of the file as the model trains on it.
  FinetuneExample example(int64_t index) const;
  /// The LLaVA loss of one example (a scalar with its graph when grad is on).
  torch::Tensor loss(const FinetuneExample& e);
  /// The LM's logits at every position of an example [T, vocab] (no grad).
  torch::Tensor logits(const FinetuneExample& e);
  FinetuneStep train_step();

  /// Writes the resumable state into `dir` (a folder of its own).
  void save_state(const std::string& dir, const nlohmann::json& counters) const;
  /// Reads it back; returns the counters saved with it.
  nlohmann::json load_state(const std::string& dir);
  /// The fine-tuned model in the Hugging Face layout (harness/model/checkpoint_save.h).
  void save(const std::string& out) const;

  MllmImpl& model();
  const AdamW& optimizer() const;
  /// Trainable parameters by the model's names (encoder.compressor.mlp1.0.weight, lm.layers.0...).
  std::vector<std::pair<std::string, torch::Tensor>> trainable() const;
  const nlohmann::json& facts() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

/// The folder's config entry that describes a run's method (config.json's laco_compressor).
nlohmann::json compressor_entry(const RunSpec& run);

}  // namespace laco
