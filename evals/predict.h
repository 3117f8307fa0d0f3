// `laco predict`: the FLOP model's speed-ups of compressing inside the
// encoder against the same method after it, for any preset, LM shape and crop
// count, in a second and without building the model. They are predictions:
// `laco run --eval efficiency` measures (and records these next to its times).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

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
  std::vector<std::string> layers = {"1/12", "1/6", "1/4", "1/2"};
  std::vector<int64_t> ratios = {2};
  /// causal_counts() name; "": what this build's attention kernel executes.
  std::string causal;
};

/// One row per LM x method x ratio x placement: the visual tokens and the
/// predicted speed-ups of prefill (and throughput, the same work per request)
/// and of the training step in every regime (train_regimes()). Errors (an
/// unknown preset, LM, method or regime, a placement beyond the encoder, a
/// ratio the method refuses) name the flag and the allowed values.
PrintTable predict_table(const PredictRequest& request);

}  // namespace laco
