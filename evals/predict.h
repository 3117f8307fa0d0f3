// `laco predict`: the FLOP model's speed-ups of compressing inside the
// encoder against the same method after it, for any preset, LM shape and crop
// count, in a second and without building the model; the decode model's
// (evals/decode.h) speed-ups and largest batches against no compression; and
// the hours a fine-tune stage would take on a given device (--train-hours).
// They are predictions: `laco run --eval efficiency` measures (and records
// these next to its times).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evals/flops.h"
#include "harness/print/table.h"

namespace laco {

/// `laco predict`'s placements: the standard ones inside the encoder (its speed-ups are against after it).
std::vector<std::string> predict_default_layers();

/// Usage: PredictRequest r; r.lms = {"Qwen2-0.5B", "Qwen2-7B"}; print(predict_table(r));
struct PredictRequest {
  std::string preset = "paper";
  /// LM shapes by name (lm_shape_names()); empty: the preset's LM.
  std::vector<std::string> lms;
  /// Applied to every LM above when set (a shape given by flags).
  std::optional<int64_t> lm_width, lm_layers, lm_heads, lm_kv_heads, lm_mlp_dim, lm_vocab;
  std::optional<int64_t> crops, text_tokens;  ///< unset: the preset's
  /// Methods (registry names with a compressor); empty: every one but none.
  std::vector<std::string> methods;
  std::vector<std::string> layers = predict_default_layers();
  std::vector<int64_t> ratios = {2};
  /// causal_counts() name; "": what this build's attention kernel executes.
  std::string causal;
  /// Decode: generated tokens per request, the batch, the memory budget (GiB); unset: the preset's.
  std::vector<int64_t> gen_tokens;
  std::optional<int64_t> batch;
  std::optional<double> memory_budget_gib;
  /// Training time (train_hours_table): the fine-tune stage (1 or 2, train_stage_regime()), the samples
  /// trained, the device's peak (TFLOP/s) and the model FLOP utilisation assumed on it.
  int64_t stage = 1;
  int64_t samples = kLcs558kSamples;
  double device_tflops = kH100SxmBf16Tflops;
  double mfu = kDefaultMfu;

  /// LLaVA-OneVision's stage-1 data, LCS-558K: 558,128 image-caption samples.
  static constexpr int64_t kLcs558kSamples = 558128;
  /// An H100 SXM's dense BF16 tensor-core peak, TFLOP/s (1979 with 2:4 sparsity).
  static constexpr double kH100SxmBf16Tflops = 989;
  /// An assumption, not a measurement: set it from a measured step (achieved FLOP/s over the peak).
  static constexpr double kDefaultMfu = 0.4;
};

/// The regime of fine-tune stage 1 (kFrozenEncoderLm: compressor and
/// projector train) or 2 (kFrozenEncoder: compressor, projector and LM); an
/// Error naming --stage and the allowed values otherwise.
TrainRegime train_stage_regime(int64_t stage);

/// Hours to train `samples` samples of `flops_per_sample` FLOPs each on a
/// device of `device_tflops` TFLOP/s peak at utilisation `mfu`:
/// samples x flops_per_sample / (device_tflops x 1e12 x mfu) / 3600. Errors
/// name the flag: --samples >= 1, --device-tflops > 0, --mfu in (0, 1].
double predicted_train_hours(double flops_per_sample, int64_t samples, double device_tflops, double mfu);

/// One row per LM x method x ratio x placement: the visual tokens and the
/// predicted speed-ups of prefill (and throughput, the same work per request)
/// and of the training step in every regime (train_regimes()). Errors (an
/// unknown preset, LM, method or regime, a placement beyond the encoder, a
/// ratio the method refuses) name the flag and the allowed values.
PrintTable predict_table(const PredictRequest& request);

/// One row per LM x method x ratio (and `none`, the reference): the visual
/// tokens, the KV cache per request, the decode model's speed-up of a decode
/// step against no compression (bytes read per step, the bound of a
/// bandwidth-bound step) at batch 1 and at the batch, its FLOP per byte, and
/// the largest batch the memory budget holds by weights + KV caches (the
/// KV-bound batch; static batching adds an activation peak per request that
/// the efficiency run measures). Decode does not depend on where the method
/// sits: the LM sees the same tokens.
PrintTable decode_table(const PredictRequest& request);

/// One row per LM x method x ratio x placement (predict_table's expansion;
/// `none`, the reference, first for each LM): the visual tokens, the FLOP
/// model's training step per sample in the regime of request.stage
/// (TFLOP), the predicted hours to train request.samples samples on a device of
/// request.device_tflops at request.mfu (predicted_train_hours), and none's
/// hours divided by the row's. Errors name the flag and the allowed values.
PrintTable train_hours_table(const PredictRequest& request);

}  // namespace laco
