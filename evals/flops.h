// The analytic FLOP model: counts from the shapes, not from a profiler.
// Multiply-adds count 2 FLOPs (matrix products, convolutions, attention
// scores and mixing); pooling 1 per input element; element-wise activations,
// norms, softmax and RoPE are not counted. Causal LM attention is counted as
// the kernel in use executes it (CausalCount): the math kernel of Torch 1.13
// computes all T x T scores and masks half of them; the causal SDPA kernels
// of Torch 2.x skip the masked half.
//
// Training steps are counted per regime (TrainRegime), after the parts'
// order in the model: nothing before the first trainable part costs a
// backward; a frozen part after it costs its forward plus the
// input-gradient half of the backward (a product with a weight: as much
// again; a product of two activations, attention: twice again, both operands
// need a gradient); a trainable part costs three forwards. One
// simplification, small: a trainable part's first product is charged its
// input gradient even where nothing before it needs one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/base/named.h"
#include "harness/model/mllm.h"

namespace laco {

/// How many score and mixing products causal attention costs.
enum class CausalCount {
  kFull,           ///< all T x T pairs, the masked half included (a math kernel)
  kLowerTriangle,  ///< T (T + 1) / 2 pairs (kernels that skip masked blocks)
};
/// "full", "lower_triangle".
const std::vector<NamedValue<CausalCount>>& causal_counts();
/// What this build's attention() executes: kLowerTriangle with
/// at::scaled_dot_product_attention (Torch 2.x), else kFull.
CausalCount causal_count_in_use();

/// Which parameters a training step updates (the stages of LLaVA-style training).
enum class TrainRegime {
  kFull,             ///< every parameter
  kFrozenEncoder,    ///< compressor, projector and LM (the encoder frozen)
  kFrozenEncoderLm,  ///< compressor and projector only (encoder and LM frozen)
};
/// "full", "frozen_encoder", "frozen_encoder_lm", in that order.
const std::vector<NamedValue<TrainRegime>>& train_regimes();
/// For tables: "all trainable", "encoder frozen", "encoder + LM frozen".
std::string train_regime_label(TrainRegime regime);
/// What a regime's metrics end in: "" for kFull (train_step_time,
/// flops_train_step), else "_" + its name (train_step_time_frozen_encoder).
std::string train_regime_suffix(TrainRegime regime);

/// Forward FLOPs of a part, split by what their backward costs.
struct PartFlops {
  double weights = 0;      ///< products with a weight (and fixed linear maps such as pooling)
  double activations = 0;  ///< products of two activations (attention scores and mixing)
  double total() const { return weights + activations; }
};
PartFlops operator*(double n, const PartFlops& p);

double patch_embed_flops(const EncoderOptions& e);
/// One pre-LN ViT block over `tokens` tokens.
PartFlops encoder_block_parts(const EncoderOptions& e, int64_t tokens);
/// One block whose attention sees `attention` tokens and whose MLP sees
/// `mlp` (a token reduction between them: ToMe, EViT).
PartFlops encoder_block_parts(const EncoderOptions& e, int64_t attention, int64_t mlp);
double encoder_block_flops(const EncoderOptions& e, int64_t tokens);
/// One Qwen2-style decoder layer over `tokens` tokens (causal).
PartFlops lm_layer_parts(const LmOptions& l, int64_t tokens, CausalCount causal = CausalCount::kFull);
double lm_layer_flops(const LmOptions& l, int64_t tokens, CausalCount causal = CausalCount::kFull);
/// mlp2x_gelu over `tokens` visual tokens.
double projector_flops(int64_t tokens, int64_t in, int64_t out);
/// The tied output head over `positions` positions.
double lm_head_flops(const LmOptions& l, int64_t positions);

/// Forward FLOPs of one request (all its crops) by stage.
struct FlopBreakdown {
  double patch_embed = 0;
  PartFlops encoder_pre;   ///< blocks 1..k on the full grid (a reduction inside block k: its MLP on the reduced tokens)
  double compressor = 0;
  bool compressor_has_weights = false;  ///< false: nothing to train in it (avgpool, none)
  PartFlops encoder_post;  ///< blocks k+1..L on the compressed grid
  double projector = 0;
  PartFlops lm;            ///< decoder layers over visual + text tokens (FastV: the kept ones after layer K)
  double lm_head_prefill = 0;  ///< logits of the last position
  double lm_head_train = 0;    ///< logits of the text positions the loss uses
  CausalCount causal = CausalCount::kFull;

  double encoder() const { return patch_embed + encoder_pre.total() + compressor + encoder_post.total(); }
  /// Time-to-first-token work.
  double prefill() const { return encoder() + projector + lm.total() + lm_head_prefill; }
  /// Forward + backward of the training step with every parameter trainable.
  double train_step() const { return train_step(TrainRegime::kFull); }
  /// Forward + backward of the training step in `regime` (see the file comment).
  double train_step(TrainRegime regime) const;
};

/// `compressor` may be null (no compression); it sits after block k (a
/// method inside blocks: in blocks k..L, as its block_tokens() count; inside
/// the LM: layers after K on its lm_prune()'s kept positions). With
/// `method_is_projector` it replaces the projector (MllmImpl::insert), whose FLOPs are then 0.
FlopBreakdown count_flops(const MllmOptions& model, const CompressorImpl* compressor, int64_t k, int64_t crops,
                          int64_t text_tokens, bool method_is_projector = false,
                          CausalCount causal = causal_count_in_use());

}  // namespace laco
