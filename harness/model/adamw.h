// AdamW as torch.optim.AdamW computes it (the single-tensor path, PyTorch 2.x:
// decoupled decay p *= 1 - lr * wd, m = lerp(m, g, 1 - b1), v = b2 v +
// (1 - b2) g^2, p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)),
// with parameter groups (a learning rate and a weight decay each) and a
// state laid out in plain named tensors. LibTorch has an AdamW, but its
// state is keyed by tensor addresses inside an opaque archive; a fine-tune
// that must resume bit for bit after SIGKILL (evals/finetune.h) writes this
// one's state as safetensors and reads it back, bounded like every input.
//
// Usage: AdamW opt({{"lm", lm_params, 1e-5, 0.0}}); loss.backward(); opt.step(schedule_factor); opt.zero_grad();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "harness/base/safetensors.h"

namespace laco {

struct AdamWGroup {
  std::string name;                   ///< "projector", "lm", ...
  std::vector<torch::Tensor> params;  ///< leaves that require grad
  double lr = 0;
  double weight_decay = 0;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  ///< torch.optim.AdamW's and transformers' Trainer defaults
};

class AdamW {
 public:
  explicit AdamW(std::vector<AdamWGroup> groups, AdamWOptions options = {});
  /// One update of every parameter with a gradient at lr * factor (the
  /// schedule's multiplier, as LambdaLR applies it); a parameter without a
  /// gradient is left alone, as torch skips it.
  void step(double factor);
  void zero_grad();
  /// sqrt(sum of every gradient's squared norm): clip_grad_norm_'s total norm.
  double grad_norm() const;
  /// clip_grad_norm_(params, max_norm): scales every gradient by
  /// max_norm / (total + 1e-6) when that is below 1. Returns the total norm before.
  double clip_grad_norm(double max_norm);

  /// Updates made (step() calls).
  int64_t steps() const { return steps_; }
  const std::vector<AdamWGroup>& groups() const { return groups_; }
  /// The state as named tensors: "step" [1] (I64), and per parameter i of
  /// group g "{g.name}.{i}.exp_avg", ".exp_avg_sq" and ".step" (I64 [1]: the
  /// updates it took part in; torch counts per parameter, and a parameter
  /// without a gradient in a step is not counted).
  NamedTensors state() const;
  /// Restores state() output; an Error naming `source` when a tensor is
  /// missing or of another shape than its parameter.
  void load_state(const SafeTensors& state, const std::string& source);

 private:
  std::vector<AdamWGroup> groups_;
  AdamWOptions options_;
  std::vector<std::vector<torch::Tensor>> exp_avg_, exp_avg_sq_;
  std::vector<std::vector<int64_t>> param_steps_;
  int64_t steps_ = 0;
};

/// transformers' get_cosine_schedule_with_warmup multiplier at optimizer
/// step `step` (0-based; the scheduler steps after each optimizer step, so
/// step 0 runs at 0 when there is warm-up): step / warmup during warm-up,
/// then 0.5 (1 + cos(pi * progress)), progress = (step - warmup) / (total - warmup).
double cosine_warmup_factor(int64_t step, int64_t warmup, int64_t total);
/// transformers' TrainingArguments.get_warmup_steps: ceil(ratio * total).
int64_t warmup_steps(double ratio, int64_t total);

}  // namespace laco
