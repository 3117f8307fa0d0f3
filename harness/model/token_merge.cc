#include "harness/model/token_merge.h"

#include <algorithm>

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {
namespace {

torch::Tensor gather_tokens(const torch::Tensor& x, const torch::Tensor& index) {
  return x.gather(1, index.unsqueeze(-1).expand({index.size(0), index.size(1), x.size(2)}));
}

}  // namespace

BipartiteMerge bipartite_soft_matching(const torch::Tensor& metric, int64_t r) {
  if (metric.dim() != 3) fail("token merge: the metric must be [batch, tokens, channels], got {} dims", metric.dim());
  const int64_t n = metric.size(1);
  if (n < 2) fail("token merge: needs at least 2 tokens, got {}", n);
  if (r < 0) fail("token merge: r must be >= 0, got {}", r);
  BipartiteMerge m;
  m.r = std::min(r, n / 2);
  if (m.r == 0) return m;
  torch::NoGradGuard no_grad;  // the matching is a choice, not a function to differentiate
  const auto unit = metric / metric.norm(2, -1, /*keepdim=*/true);
  const auto a = unit.slice(1, 0, n, 2), b = unit.slice(1, 1, n, 2);
  const auto scores = torch::matmul(a, b.transpose(-1, -2));  // [B, |A|, |B|]
  const auto [best, best_b] = scores.max(-1);
  // The A tokens by their edge's similarity, most similar first (stable: equal edges keep their order).
  const auto order = std::get<1>(best.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
  const int64_t na = a.size(1);
  m.merged = order.narrow(-1, 0, m.r);
  m.unmerged = order.narrow(-1, m.r, na - m.r);
  m.into = best_b.gather(-1, m.merged);
  return m;
}

torch::Tensor BipartiteMerge::sum(const torch::Tensor& x) const {
  if (r == 0) return x;
  const int64_t n = x.size(1);
  const auto src = x.slice(1, 0, n, 2), dst = x.slice(1, 1, n, 2);
  const auto moved = gather_tokens(src, merged);
  const auto index = into.unsqueeze(-1).expand({into.size(0), r, x.size(2)});
  return torch::cat({gather_tokens(src, unmerged), dst.scatter_add(1, index, moved)}, 1);
}

std::pair<torch::Tensor, torch::Tensor> merge_weighted(const BipartiteMerge& merge, const torch::Tensor& x,
                                                       const torch::Tensor& size) {
  const auto s = size.defined() ? size : torch::ones({x.size(0), x.size(1), 1}, x.options());
  if (s.size(0) != x.size(0) || s.size(1) != x.size(1) || s.size(2) != 1)
    fail("token merge: sizes must be [{}, {}, 1] for tokens [{}, {}, {}]", x.size(0), x.size(1), x.size(0), x.size(1),
         x.size(2));
  const auto merged_size = merge.sum(s);
  return {merge.sum(x * s) / merged_size, merged_size};
}

torch::Tensor proportional_attention_bias(const torch::Tensor& size) {
  return size.log().squeeze(-1).unsqueeze(1).unsqueeze(1);
}

std::vector<int64_t> merge_schedule(int64_t tokens, int64_t target, int64_t steps) {
  if (steps < 1) fail("token merge: a schedule needs at least one matching, got {}", steps);
  if (target < 1 || target >= tokens)
    fail("token merge: the target must be in 1..{} (fewer than the {} tokens), got {}", tokens - 1, tokens, target);
  const int64_t remove = tokens - target;
  std::vector<int64_t> r;
  int64_t left = tokens;
  for (int64_t i = 0; i < steps; ++i) {
    r.push_back(remove / steps + (i < remove % steps ? 1 : 0));
    if (r.back() > left / 2)
      fail("token merge: {} tokens cannot become {} in {} matchings of a constant r: matching {} would remove {} of "
           "{} (at most half); merge over more blocks or to a larger target",
           tokens, target, steps, i + 1, r.back(), left);
    left -= r.back();
  }
  return r;
}

std::vector<std::vector<int64_t>> merge_plan(int64_t tokens, int64_t target, int64_t blocks) {
  if (blocks < 1) fail("token merge: a plan needs at least one block, got {}", blocks);
  if (target < 1 || target >= tokens)
    fail("token merge: the target must be in 1..{} (fewer than the {} tokens), got {}", tokens - 1, tokens, target);
  std::vector<std::vector<int64_t>> plan;
  const int64_t remove = tokens - target;
  bool constant = true;
  for (int64_t i = 0, left = tokens; i < blocks && constant; ++i) {
    const int64_t r = remove / blocks + (i < remove % blocks ? 1 : 0);
    constant = r <= left / 2;
    left -= r;
  }
  if (constant) {
    for (int64_t r : merge_schedule(tokens, target, blocks)) plan.push_back({r});
    return plan;
  }
  int64_t left = tokens;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t blocks_left = blocks - i;
    const int64_t share = (left - target + blocks_left - 1) / blocks_left;
    std::vector<int64_t> matchings = {std::min(share, left / 2)};
    left -= matchings.back();
    if (i + 1 == blocks)
      while (left > target) {
        matchings.push_back(std::min(left - target, left / 2));
        left -= matchings.back();
      }
    plan.push_back(std::move(matchings));
  }
  return plan;
}

}  // namespace laco
