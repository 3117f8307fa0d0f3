#include "evals/flops.h"

namespace laco {

namespace {
double d(int64_t v) { return static_cast<double>(v); }
}  // namespace

double patch_embed_flops(const EncoderOptions& e) {
  const int64_t p = e.patch_size();
  return 2.0 * d(e.grid().tokens()) * d(e.channels() * p * p) * d(e.width());
}

double encoder_block_flops(const EncoderOptions& e, int64_t tokens) {
  const double n = d(tokens), c = d(e.width()), m = d(e.mlp_dim());
  // qkv (3C^2) + output projection (C^2), the MLP (2CM), scores and mixing (2 N^2 C).
  return 2.0 * n * 4.0 * c * c + 2.0 * n * 2.0 * c * m + 2.0 * 2.0 * n * n * c;
}

double lm_layer_flops(const LmOptions& l, int64_t tokens) {
  const double t = d(tokens), w = d(l.width()), hd = d(l.head_dim());
  const double q = d(l.heads()) * hd, kv = d(l.kv_heads()) * hd;
  const double projections = 2.0 * t * w * (q + 2.0 * kv) + 2.0 * t * q * w;
  const double attention = 2.0 * 2.0 * t * t * q;
  const double swiglu = 2.0 * t * 3.0 * w * d(l.mlp_dim());
  return projections + attention + swiglu;
}

double projector_flops(int64_t tokens, int64_t in, int64_t out) {
  return 2.0 * d(tokens) * (d(in) * d(out) + d(out) * d(out));
}

double lm_head_flops(const LmOptions& l, int64_t positions) {
  return 2.0 * d(positions) * d(l.width()) * d(l.vocab());
}

FlopBreakdown count_flops(const MllmOptions& model, const CompressorImpl* compressor, int64_t k, int64_t crops,
                          int64_t text_tokens, bool method_is_projector) {
  const auto& e = model.encoder;
  const Grid grid = e.grid();
  const Grid out = compressor ? compressor->output_grid(grid) : grid;
  const int64_t k_eff = compressor ? k : e.depth();
  FlopBreakdown f;
  f.patch_embed = d(crops) * patch_embed_flops(e);
  f.encoder_pre = d(crops) * d(k_eff) * encoder_block_flops(e, grid.tokens());
  f.compressor = compressor ? d(crops) * compressor->flops(grid) : 0.0;
  f.encoder_post = d(crops) * d(e.depth() - k_eff) * encoder_block_flops(e, out.tokens());
  const int64_t visual = crops * out.tokens();
  f.projector = method_is_projector ? 0.0 : projector_flops(visual, e.width(), model.lm.width());
  f.lm = d(model.lm.layers()) * lm_layer_flops(model.lm, visual + text_tokens);
  f.lm_head_prefill = lm_head_flops(model.lm, 1);
  f.lm_head_train = lm_head_flops(model.lm, text_tokens - 1);
  return f;
}

}  // namespace laco
