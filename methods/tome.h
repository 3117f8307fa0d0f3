// `tome`: Token Merging (Bolya et al., ICLR 2023; facebookresearch/ToMe)
// inside the encoder, from block k to the last: in each block, between the
// attention (with proportional attention) and the MLP, bipartite soft
// matching on the keys merges a constant number of tokens, so that the
// tokens leaving the encoder are the ratio's budget (harness/model/token_merge.h:
// merge_plan). At k = L one matching cannot reach it; the last block then
// matches again on the merged keys (729 -> 365 -> 196 at r = 2).
#pragma once

#include <torch/nn/pimpl.h>

#include "methods/token_reduction.h"

namespace laco {

/// Usage: auto c = make_compressor("tome", CompressorOptions(C).ratio(2).block(7).depth(26).heads(16));
class ToMeImpl : public TokenReductionImpl {
 public:
  static constexpr MethodSite kSite = MethodSite::kInBlocks;
  explicit ToMeImpl(CompressorOptions options);
  MethodSite site() const override { return kSite; }
  /// The matchings of blocks k..L (r per matching) for an encoder grid `in`.
  std::vector<std::vector<int64_t>> plan(Grid in) const;
  std::pair<torch::Tensor, torch::Tensor> forward_block(EncoderBlockImpl& block, const torch::Tensor& x,
                                                        const torch::Tensor& size, int64_t index, Grid in) override;
  std::vector<BlockTokens> block_tokens(Grid in) const override;
  /// The matchings: the keys' mean over heads (1 per element), the cosine
  /// similarities of A x B on a head's width (2 per multiply-add); the
  /// size-weighted sums are element-wise (not counted).
  double flops(Grid in) const override;
};
TORCH_MODULE(ToMe);

MethodInfo tome_method();

}  // namespace laco
