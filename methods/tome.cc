#include "methods/tome.h"

#include "harness/base/error.h"
#include "harness/model/encoder.h"
#include "harness/model/token_merge.h"

namespace laco {

ToMeImpl::ToMeImpl(CompressorOptions options) : TokenReductionImpl("tome", std::move(options)) {}

std::vector<std::vector<int64_t>> ToMeImpl::plan(Grid in) const {
  const auto [k, depth] = blocks();
  return merge_plan(in.tokens(), budget(in), depth - k + 1);
}

std::pair<torch::Tensor, torch::Tensor> ToMeImpl::forward_block(EncoderBlockImpl& block, const torch::Tensor& x,
                                                                const torch::Tensor& size, int64_t index, Grid in) {
  const auto p = plan(in);
  const int64_t step = index - blocks().first;
  if (step < 0 || step >= static_cast<int64_t>(p.size()))
    fail("method 'tome': block {} is outside the blocks it merges in ({}..{})", index, blocks().first, blocks().second);
  return block.forward_merging(x, size, p[static_cast<size_t>(step)]);
}

std::vector<CompressorImpl::BlockTokens> ToMeImpl::block_tokens(Grid in) const {
  const auto [k, depth] = blocks();
  const auto p = plan(in);
  std::vector<BlockTokens> out;
  int64_t n = in.tokens();
  for (int64_t i = 1; i <= depth; ++i) {
    BlockTokens t{n, n};
    if (i >= k)
      for (int64_t r : p[static_cast<size_t>(i - k)]) t.mlp -= r;
    n = t.mlp;
    out.push_back(t);
  }
  return out;
}

double ToMeImpl::flops(Grid in) const {
  if (options_.heads() < 1) fail("method 'tome': its FLOPs need the encoder's heads (CompressorOptions heads)");
  const double head_width = static_cast<double>(options_.dim() / options_.heads());
  double total = 0;
  int64_t n = in.tokens();
  for (const auto& matchings : plan(in)) {
    total += static_cast<double>(n * options_.dim());  // the keys' mean over heads
    for (int64_t r : matchings) {
      total += 2.0 * static_cast<double>((n + 1) / 2) * static_cast<double>(n / 2) * head_width;
      n -= r;
    }
  }
  return total;
}

MethodInfo tome_method() {
  MethodInfo info;
  info.name = "tome";
  info.summary = "Token Merging in blocks k..L: bipartite soft matching on keys, size-weighted, proportional attention";
  info.site = ToMeImpl::kSite;
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("tome", mo, {});
    return std::make_shared<ToMeImpl>(o);
  };
  return info;
}

}  // namespace laco
