// Parameter counts from the shapes alone, as the modules register them:
// what a model will hold before it is built (a checkpoint's config.json is
// checked against its weight files and the memory there is before one tensor
// is allocated), and the decode model's bytes (evals/decode.h). Tests check
// them against the modules.
#pragma once

#include <cstdint>

#include "harness/model/encoder.h"
#include "harness/model/lm.h"

namespace laco {

/// One decoder layer: two RMSNorms, biased q/k/v, o_proj, SwiGLU.
int64_t lm_layer_parameters(const LmOptions& l);
/// The LM: embedding, layers, final norm, an untied head.
int64_t lm_parameters(const LmOptions& l);
/// The encoder: patch embedding, position embedding, blocks, post_layernorm.
int64_t encoder_parameters(const EncoderOptions& e);
/// The mlp2x_gelu projector from `in` to `out` features.
int64_t projector_parameters(int64_t in, int64_t out);

}  // namespace laco
