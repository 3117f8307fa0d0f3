// Parity of a loaded checkpoint with its reference model: a case file (made by
// scripts/checkpoint_fixtures.py; tests/checkpoints holds small ones) names a
// checkpoint folder beside it (metadata "checkpoint") and stores inputs and
// the reference's outputs, computed in float64 from the stored weights with
// transformers' semantics:
//   siglip           input.pixel_values -> output.hidden_states.<i> (after
//                    layer i) and output.post_layernorm
//   qwen2            input.input_ids -> output.logits
//   llava_onevision  input.pixel_values, input.input_ids -> output.image_features
//                    (after the projector) and output.logits over [image, text]
// The harness loads the checkpoint (harness/model/checkpoint.h), runs its
// inference path in float32 and compares. Each output's tolerance is derived
// from float32 arithmetic (harness/base/float32.h): 2 gamma_n relative to
// max(1, max|ref|), with n the rounded operations along the output's longest
// dependency chain (every sum counts its terms), as this file counts them from
// the config. A float64 reference errs far less, so the bound is the
// harness's own rounding twice over.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "harness/model/encoder.h"
#include "harness/model/lm.h"
#include "parity/report.h"

namespace laco {

/// Whether a parity case file checks a checkpoint (its metadata names one).
bool is_checkpoint_parity_case(const std::map<std::string, std::string>& metadata);

/// Runs the case. `tolerance`: one for every output instead of the derived ones.
ParityReport run_checkpoint_parity(const std::string& case_file, std::optional<double> tolerance = std::nullopt);

/// Rounded operations along the longest chain to the output of encoder block
/// `blocks` (0: the patch embedding), plus post_layernorm when asked.
int64_t encoder_chain_length(const EncoderOptions& e, int64_t blocks, bool post_layernorm = false);
/// The chain to the LM's logits over `tokens` positions, from inputs that
/// already carry a chain of `input_chain` operations.
int64_t lm_chain_length(const LmOptions& l, int64_t tokens, int64_t input_chain = 0);

}  // namespace laco
