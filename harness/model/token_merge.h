// Token Merging (ToMe, Bolya et al., "Token Merging: Your ViT but Faster",
// ICLR 2023), the primitives, with the semantics of its reference
// (facebookresearch/ToMe, tome/merge.py and tome/patch/timm.py):
//
// - bipartite soft matching: the tokens alternate into two sets, A (even
//   positions) and B (odd); each A token's most similar B token by cosine
//   similarity of the metric (the attention keys averaged over heads) is its
//   edge; the r A tokens with the most similar edges merge into their B
//   tokens; the result is [the other A tokens, ordered by their edge's
//   similarity, most similar first; then B in its order].
// - size-weighted averaging: every token carries the number of patches it
//   holds (its size, 1 at the start); a merge sums size x token and size,
//   then divides, so a token is the mean of the patches it holds.
// - proportional attention: log(size) added to every key's logit, so a
//   token of size s weighs as s tokens.
//
// At most half of the tokens (floor(N / 2)) merge in one matching; a budget
// deeper than that takes several matchings (merge_schedule).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <torch/types.h>

namespace laco {

/// One bipartite soft matching of N tokens: which A tokens stay, which merge
/// and into which B token. Indices are within A (position 2i) and B (2i + 1).
/// Usage: auto m = bipartite_soft_matching(keys, r); auto [x2, size2] = merge_weighted(m, x, size);
struct BipartiteMerge {
  int64_t r = 0;           ///< tokens removed: N - r remain
  torch::Tensor unmerged;  ///< [B, |A| - r] A indices that stay, most similar edge first
  torch::Tensor merged;    ///< [B, r] A indices that merge
  torch::Tensor into;      ///< [B, r] the B index each of them merges into

  /// x [B, N, C] -> [B, N - r, C]: the unmerged A tokens, then B with the
  /// merged A tokens added to their destinations (a sum; merge_weighted divides).
  torch::Tensor sum(const torch::Tensor& x) const;
};

/// The matching for metric [B, N, C] (N >= 2) removing min(r, floor(N / 2))
/// tokens; r >= 0. Ties between equal similarities resolve as torch::max and
/// torch::argsort (descending, stable) resolve them.
BipartiteMerge bipartite_soft_matching(const torch::Tensor& metric, int64_t r);

/// Size-weighted merge: x [B, N, C] and size [B, N, 1] (undefined: all 1)
/// -> the merged tokens (size-weighted means) and their sizes.
std::pair<torch::Tensor, torch::Tensor> merge_weighted(const BipartiteMerge& merge, const torch::Tensor& x,
                                                       const torch::Tensor& size = {});

/// Proportional attention's bias: log(size) [B, N, 1] as [B, 1, 1, N], to
/// add to attention logits [B, heads, N, N] before the softmax.
torch::Tensor proportional_attention_bias(const torch::Tensor& size);

/// Tokens to remove in each of `steps` matchings so that `tokens` become
/// `target`: as equal as the counts allow (the reference's constant r per
/// block, the remainder one more in the first steps), each within what one
/// matching can remove (half the tokens it sees). An Error when the target
/// is not below `tokens`, is below 1, or cannot be reached in `steps`.
/// Usage: merge_schedule(729, 196, 20) for 27 x 27 to 14 x 14 over blocks 7..26.
std::vector<int64_t> merge_schedule(int64_t tokens, int64_t target, int64_t steps);

/// The matchings of each of `blocks` blocks that bring `tokens` to `target`:
/// merge_schedule's constant r, one matching per block, where it can reach
/// the target; else each block removes what one matching can (half its
/// tokens, no more than the constant-r share of what is left) and the last
/// block adds matchings until the target (ToMe's schedule cannot reach
/// a budget deeper than half the tokens in one block, e.g. 729 -> 196 in
/// the last block: there 364 then 169). An Error for a target outside 1..tokens - 1.
/// Usage: merge_plan(729, 196, 1) == {{364, 169}}
std::vector<std::vector<int64_t>> merge_plan(int64_t tokens, int64_t target, int64_t blocks);

}  // namespace laco
