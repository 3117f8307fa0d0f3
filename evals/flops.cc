#include "evals/flops.h"

#include "harness/model/attention.h"

namespace laco {

namespace {
double d(int64_t v) { return static_cast<double>(v); }
}  // namespace

const std::vector<NamedValue<CausalCount>>& causal_counts() {
  static const std::vector<NamedValue<CausalCount>> all = {{"full", CausalCount::kFull},
                                                           {"lower_triangle", CausalCount::kLowerTriangle}};
  return all;
}

CausalCount causal_count_in_use() {
  // at::scaled_dot_product_attention with is_causal (Torch 2.x: its flash
  // kernels, CUDA and CPU, stop each query block at the diagonal); the math
  // form of Torch 1.13 multiplies every pair and masks.
  return std::string(attention_backend()) == "sdpa" ? CausalCount::kLowerTriangle : CausalCount::kFull;
}

const std::vector<NamedValue<TrainRegime>>& train_regimes() {
  static const std::vector<NamedValue<TrainRegime>> all = {{"full", TrainRegime::kFull},
                                                           {"frozen_encoder", TrainRegime::kFrozenEncoder},
                                                           {"frozen_encoder_lm", TrainRegime::kFrozenEncoderLm}};
  return all;
}

std::string train_regime_label(TrainRegime regime) {
  switch (regime) {
    case TrainRegime::kFull: return "all trainable";
    case TrainRegime::kFrozenEncoder: return "encoder frozen";
    case TrainRegime::kFrozenEncoderLm: return "encoder + LM frozen";
  }
  return "?";
}

std::string train_regime_suffix(TrainRegime regime) {
  return regime == TrainRegime::kFull ? "" : "_" + name_of(train_regimes(), regime);
}

PartFlops operator*(double n, const PartFlops& p) { return {n * p.weights, n * p.activations}; }

double patch_embed_flops(const EncoderOptions& e) {
  const int64_t p = e.patch_size();
  return 2.0 * d(e.grid().tokens()) * d(e.channels() * p * p) * d(e.width());
}

PartFlops encoder_block_parts(const EncoderOptions& e, int64_t tokens) {
  const double n = d(tokens), c = d(e.width()), m = d(e.mlp_dim());
  // qkv (3C^2) + output projection (C^2), the MLP (2CM); scores and mixing (2 N^2 C).
  return {2.0 * n * 4.0 * c * c + 2.0 * n * 2.0 * c * m, 2.0 * 2.0 * n * n * c};
}

PartFlops encoder_block_parts(const EncoderOptions& e, int64_t attention, int64_t mlp) {
  const double na = d(attention), nm = d(mlp), c = d(e.width()), m = d(e.mlp_dim());
  return {2.0 * na * 4.0 * c * c + 2.0 * nm * 2.0 * c * m, 2.0 * 2.0 * na * na * c};
}

double encoder_block_flops(const EncoderOptions& e, int64_t tokens) { return encoder_block_parts(e, tokens).total(); }

PartFlops lm_layer_parts(const LmOptions& l, int64_t tokens, CausalCount causal) {
  const double t = d(tokens), w = d(l.width()), hd = d(l.head_dim());
  const double q = d(l.heads()) * hd, kv = d(l.kv_heads()) * hd;
  const double projections = 2.0 * t * w * (q + 2.0 * kv) + 2.0 * t * q * w;
  const double swiglu = 2.0 * t * 3.0 * w * d(l.mlp_dim());
  // Query i attends to keys 0..i: t (t + 1) / 2 pairs when the kernel skips the rest.
  const double pairs = causal == CausalCount::kLowerTriangle ? t * (t + 1.0) / 2.0 : t * t;
  return {projections + swiglu, 2.0 * 2.0 * pairs * q};
}

double lm_layer_flops(const LmOptions& l, int64_t tokens, CausalCount causal) {
  return lm_layer_parts(l, tokens, causal).total();
}

double projector_flops(int64_t tokens, int64_t in, int64_t out) {
  return 2.0 * d(tokens) * (d(in) * d(out) + d(out) * d(out));
}

double lm_head_flops(const LmOptions& l, int64_t positions) {
  return 2.0 * d(positions) * d(l.width()) * d(l.vocab());
}

double FlopBreakdown::train_step(TrainRegime regime) const {
  const bool all = regime == TrainRegime::kFull;
  const bool lm_trains = regime != TrainRegime::kFrozenEncoderLm;
  struct Part {
    PartFlops flops;
    bool trainable;
  };
  // In the model's order: the backward reaches back to the first trainable part.
  const Part parts[] = {
      {{patch_embed, 0}, all},
      {encoder_pre, all},
      {{compressor, 0}, compressor_has_weights},
      {encoder_post, all},
      {{projector, 0}, true},
      {lm, lm_trains},
      {{lm_head_train, 0}, lm_trains},
  };
  double total = 0;
  bool backward = false;
  for (const auto& p : parts) {
    backward = backward || p.trainable;
    if (!backward) total += p.flops.total();
    else total += (p.trainable ? 3.0 : 2.0) * p.flops.weights + 3.0 * p.flops.activations;
  }
  return total;
}

FlopBreakdown count_flops(const MllmOptions& model, const CompressorImpl* compressor, int64_t k, int64_t crops,
                          int64_t text_tokens, bool method_is_projector, CausalCount causal) {
  const auto& e = model.encoder;
  const Grid grid = e.grid();
  const Grid out = compressor ? compressor->output_grid(grid) : grid;
  const int64_t k_eff = compressor ? k : e.depth();
  FlopBreakdown f;
  f.causal = causal;
  f.patch_embed = d(crops) * patch_embed_flops(e);
  const MethodSite site = compressor ? compressor->site() : MethodSite::kAfterBlock;
  if (site == MethodSite::kInBlocks) {
    const auto blocks = compressor->block_tokens(grid);
    for (int64_t i = 1; i <= e.depth(); ++i) {
      const auto& t = blocks[static_cast<size_t>(i - 1)];
      auto& part = i <= k_eff ? f.encoder_pre : f.encoder_post;
      const PartFlops b = d(crops) * encoder_block_parts(e, t.attention, t.mlp);
      part.weights += b.weights;
      part.activations += b.activations;
    }
  } else {
    f.encoder_pre = d(crops) * d(k_eff) * encoder_block_parts(e, grid.tokens());
    f.encoder_post = d(crops) * d(e.depth() - k_eff) * encoder_block_parts(e, out.tokens());
  }
  f.compressor = compressor ? d(crops) * compressor->flops(grid) : 0.0;
  f.compressor_has_weights = compressor && !compressor->parameters().empty();
  const int64_t visual = crops * out.tokens();
  f.projector = method_is_projector ? 0.0 : projector_flops(visual, e.width(), model.lm.width());
  if (site == MethodSite::kInLm) {
    const LmPrune prune = compressor->lm_prune(grid, crops);
    const int64_t before = prune.after_layer, after = model.lm.layers() - prune.after_layer;
    const auto full = lm_layer_parts(model.lm, visual + text_tokens, causal);
    const auto kept = lm_layer_parts(model.lm, visual - prune.dropped() + text_tokens, causal);
    f.lm = {d(before) * full.weights + d(after) * kept.weights, d(before) * full.activations + d(after) * kept.activations};
  } else {
    f.lm = d(model.lm.layers()) * lm_layer_parts(model.lm, visual + text_tokens, causal);
  }
  f.lm_head_prefill = lm_head_flops(model.lm, 1);
  f.lm_head_train = lm_head_flops(model.lm, text_tokens - 1);
  return f;
}

}  // namespace laco
