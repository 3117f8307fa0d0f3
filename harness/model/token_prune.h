// Token pruning by attention, the primitives of two methods, with the
// semantics of their references:
//
// - EViT (Liang et al., "Not All Patches are What You Need", ICLR 2022;
//   youweiliang/evit, evit.py Attention/Block, helpers.py complement_idx):
//   inside a block, after the attention residual, keep the tokens the class
//   token attends to most (top-k, descending) and fuse the rest into one
//   token, their sum weighted by that attention (not renormalised), placed
//   last; the MLP runs on the kept tokens and the fused one. SigLIP has no
//   class token, so the score here is the attention a token receives,
//   averaged over heads and over every query (attention_received): the
//   class token's row is one query's view, the mean is all of them', and it
//   sums to 1 over the tokens as a row of probabilities does.
// - FastV (Chen et al., "An Image is Worth 1/2 Tokens After Layer 2", ECCV
//   2024; pkunlp-icler/FastV, modeling_llama.py): after LM layer K, keep the
//   visual positions the last prompt position attends to most in layer K
//   (averaged over heads), in their original order (keep_visual).
#pragma once

#include <cstdint>

#include <torch/types.h>

namespace laco {

/// probs [B, heads, N, N] (rows: queries) -> [B, N]: the probability each
/// key receives, averaged over heads and queries.
torch::Tensor attention_received(const torch::Tensor& probs);

/// Indices [B, keep] of the `keep` best of score [B, N], best first; ties
/// go to the lower index (a stable sort; torch::topk leaves them to the kernel).
torch::Tensor top_tokens(const torch::Tensor& score, int64_t keep);

/// EViT's reduction of h [B, N, C] by score [B, N]: the `keep` best-scored
/// tokens in descending score (ties: the lower index first), then one token,
/// sum over the others of score x token -> [B, keep + 1, C]. keep in 1..N - 1.
torch::Tensor keep_and_fuse(const torch::Tensor& h, const torch::Tensor& score, int64_t keep);

/// FastV's choice: the `keep` best of score [B, count] (visual positions
/// start..start + count - 1), as positions, ascending [B, keep].
torch::Tensor keep_visual(const torch::Tensor& score, int64_t start, int64_t keep);

/// Positions [B, T'] a pruned prompt of `tokens` positions holds: 0..start - 1,
/// the kept visual ones (keep_visual's), start + count..tokens - 1.
torch::Tensor kept_positions(const torch::Tensor& visual_kept, int64_t start, int64_t count, int64_t tokens);

}  // namespace laco
