// `evit`: EViT (Liang et al., ICLR 2022; youweiliang/evit) at block k: between
// block k's attention and its MLP, the budget - 1 tokens that receive the
// most attention stay and the others are fused into one token weighted by
// that attention, so that the budget reaches the LM (harness/model/token_prune.h:
// SigLIP has no class token, so the score is the attention a token receives,
// averaged over heads and every query). EViT prunes once per stage of its
// reference's schedule; here once, at the placement, as the grid methods compress.
#pragma once

#include <torch/nn/pimpl.h>

#include "methods/token_reduction.h"

namespace laco {

/// Usage: auto c = make_compressor("evit", CompressorOptions(C).ratio(2).block(7).depth(26).heads(16));
class EVitImpl : public TokenReductionImpl {
 public:
  static constexpr MethodSite kSite = MethodSite::kInBlocks;
  explicit EVitImpl(CompressorOptions options);
  MethodSite site() const override { return kSite; }
  std::pair<torch::Tensor, torch::Tensor> forward_block(EncoderBlockImpl& block, const torch::Tensor& x,
                                                        const torch::Tensor& size, int64_t index, Grid in) override;
  std::vector<BlockTokens> block_tokens(Grid in) const override;
  /// The score (the mean of heads x N x N probabilities: 1 per element) and
  /// the fused token (2 per multiply-add over the tokens fused).
  double flops(Grid in) const override;
};
TORCH_MODULE(EVit);

MethodInfo evit_method();

}  // namespace laco
