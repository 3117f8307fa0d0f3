// `fastv`: FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2",
// ECCV 2024; pkunlp-icler/FastV), training-free pruning inside the LM: the
// encoder's tokens enter the LM complete; after LM layer K (option
// `after_layer`, FastV's K = 2 by default) only the visual positions the
// last prompt position attends to most in layer K stay, as many as a ratio-r
// grid method leaves (harness/model/lm_prune.h, token_prune.h). The prompt is
// pruned once, at the prefill (the reference's KV-cache version); generated
// tokens continue at their original positions.
#pragma once

#include <torch/nn/pimpl.h>

#include "methods/token_reduction.h"

namespace laco {

/// Usage: auto c = make_compressor("fastv", CompressorOptions(C).ratio(2), {{"after_layer", "2"}});
class FastVImpl : public TokenReductionImpl {
 public:
  static constexpr MethodSite kSite = MethodSite::kInLm;
  /// FastV's K in its paper's main setting.
  static constexpr int64_t kDefaultAfterLayer = 2;
  FastVImpl(CompressorOptions options, int64_t after_layer);
  MethodSite site() const override { return kSite; }
  /// The encoder's grid: its tokens leave the encoder complete.
  Grid output_grid(Grid in) const override { return in; }
  LmPrune lm_prune(Grid in, int64_t crops) const override;
  /// 0 in the encoder. Its score is layer K's attention row of the last
  /// prompt position (2 x heads x head_dim per key): the LM's count
  /// (evals/flops.cc) holds the pruned layers.
  double flops(Grid) const override { return 0; }
  int64_t after_layer() const { return after_layer_; }

 private:
  int64_t after_layer_;
};
TORCH_MODULE(FastV);

MethodInfo fastv_method();

}  // namespace laco
