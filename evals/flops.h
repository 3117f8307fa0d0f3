// The analytic FLOP model: counts from the shapes, not from a profiler.
// Multiply-adds count 2 FLOPs (matrix products, convolutions, attention
// scores and mixing); pooling 1 per input element; element-wise activations,
// norms, softmax and RoPE are not counted. Attention is counted in full
// (T x T), causal or not: that is what the math kernel executes.
#pragma once

#include <cstdint>

#include "harness/model/mllm.h"

namespace laco {

double patch_embed_flops(const EncoderOptions& e);
/// One pre-LN ViT block over `tokens` tokens.
double encoder_block_flops(const EncoderOptions& e, int64_t tokens);
/// One Qwen2-style decoder layer over `tokens` tokens.
double lm_layer_flops(const LmOptions& l, int64_t tokens);
/// mlp2x_gelu over `tokens` visual tokens.
double projector_flops(int64_t tokens, int64_t in, int64_t out);
/// The tied output head over `positions` positions.
double lm_head_flops(const LmOptions& l, int64_t positions);

/// Forward FLOPs of one request (all its crops) by stage.
struct FlopBreakdown {
  double patch_embed = 0;
  double encoder_pre = 0;   ///< blocks 1..k on the full grid
  double compressor = 0;
  double encoder_post = 0;  ///< blocks k+1..L on the compressed grid
  double projector = 0;
  double lm = 0;            ///< decoder layers over visual + text tokens
  double lm_head_prefill = 0;  ///< logits of the last position
  double lm_head_train = 0;    ///< logits of the text positions the loss uses

  double encoder() const { return patch_embed + encoder_pre + compressor + encoder_post; }
  /// Time-to-first-token work.
  double prefill() const { return encoder() + projector + lm + lm_head_prefill; }
  /// Forward + backward (2x forward) of the training step.
  double train_step() const { return 3.0 * (encoder() + projector + lm + lm_head_train); }
};

/// `compressor` may be null (no compression); it sits after block k. With
/// `method_is_projector` it replaces the projector (MllmImpl::insert), whose FLOPs are then 0.
FlopBreakdown count_flops(const MllmOptions& model, const CompressorImpl* compressor, int64_t k, int64_t crops,
                          int64_t text_tokens, bool method_is_projector = false);

}  // namespace laco
