#include "harness/model/token_prune.h"

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {

torch::Tensor attention_received(const torch::Tensor& probs) {
  if (probs.dim() != 4) fail("token prune: attention probabilities must be [batch, heads, queries, keys], got {} dims", probs.dim());
  return probs.mean(std::vector<int64_t>{1, 2});
}

torch::Tensor top_tokens(const torch::Tensor& score, int64_t keep) {
  const auto order = std::get<1>(score.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
  return order.narrow(-1, 0, keep);
}

namespace {

torch::Tensor gather_tokens(const torch::Tensor& x, const torch::Tensor& index) {
  return x.gather(1, index.unsqueeze(-1).expand({index.size(0), index.size(1), x.size(2)}));
}

}  // namespace

torch::Tensor keep_and_fuse(const torch::Tensor& h, const torch::Tensor& score, int64_t keep) {
  const int64_t n = h.size(1);
  if (h.dim() != 3 || score.dim() != 2 || score.size(0) != h.size(0) || score.size(1) != n)
    fail("token prune: scores must be [batch, tokens] for tokens [batch, tokens, channels]");
  if (keep < 1 || keep >= n) fail("token prune: keep must be in 1..{} of {} tokens, got {}", n - 1, n, keep);
  torch::Tensor kept, rest;
  {
    torch::NoGradGuard no_grad;  // a choice, not a function to differentiate
    kept = top_tokens(score, keep);
    auto mask = torch::ones_like(score, torch::kBool).scatter_(1, kept, false);
    rest = mask.nonzero().select(1, 1).reshape({h.size(0), n - keep});  // ascending, as complement_idx
  }
  const auto fused = (gather_tokens(h, rest) * score.gather(1, rest).unsqueeze(-1)).sum(1, /*keepdim=*/true);
  return torch::cat({gather_tokens(h, kept), fused}, 1);
}

torch::Tensor keep_visual(const torch::Tensor& score, int64_t start, int64_t keep) {
  if (score.dim() != 2) fail("token prune: visual scores must be [batch, visual tokens], got {} dims", score.dim());
  if (keep < 1 || keep > score.size(1))
    fail("token prune: keep must be in 1..{} visual tokens, got {}", score.size(1), keep);
  torch::NoGradGuard no_grad;
  return std::get<0>(top_tokens(score, keep).sort(-1)) + start;
}

torch::Tensor kept_positions(const torch::Tensor& visual_kept, int64_t start, int64_t count, int64_t tokens) {
  const auto opts = visual_kept.options();
  const int64_t b = visual_kept.size(0);
  return torch::cat({torch::arange(start, opts).expand({b, start}), visual_kept,
                     torch::arange(start + count, tokens, opts).expand({b, tokens - start - count})},
                    1);
}

}  // namespace laco
