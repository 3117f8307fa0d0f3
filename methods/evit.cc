#include "methods/evit.h"

#include "harness/base/error.h"
#include "harness/model/encoder.h"
#include "harness/model/token_prune.h"

namespace laco {

EVitImpl::EVitImpl(CompressorOptions options) : TokenReductionImpl("evit", std::move(options)) {}

std::pair<torch::Tensor, torch::Tensor> EVitImpl::forward_block(EncoderBlockImpl& block, const torch::Tensor& x,
                                                                const torch::Tensor& size, int64_t index, Grid in) {
  if (index != blocks().first) return {block.forward(x), size};
  const int64_t keep = budget(in) - 1;
  return block.forward_reducing(x, size, [keep](const torch::Tensor& h, const torch::Tensor&,
                                                const EncoderBlockImpl::Attention& a) {
    return std::make_pair(keep_and_fuse(h, attention_received(a.probs), keep), torch::Tensor());
  });
}

std::vector<CompressorImpl::BlockTokens> EVitImpl::block_tokens(Grid in) const {
  const auto [k, depth] = blocks();
  std::vector<BlockTokens> out;
  for (int64_t i = 1; i <= depth; ++i) {
    if (i < k) out.push_back({in.tokens(), in.tokens()});
    else if (i == k) out.push_back({in.tokens(), budget(in)});
    else out.push_back({budget(in), budget(in)});
  }
  return out;
}

double EVitImpl::flops(Grid in) const {
  if (options_.heads() < 1) fail("method 'evit': its FLOPs need the encoder's heads (CompressorOptions heads)");
  const double n = static_cast<double>(in.tokens()), fused = n - static_cast<double>(budget(in) - 1);
  return static_cast<double>(options_.heads()) * n * n + 2.0 * fused * static_cast<double>(options_.dim());
}

MethodInfo evit_method() {
  MethodInfo info;
  info.name = "evit";
  info.summary = "EViT at block k: keep the most attended tokens, fuse the rest into one (attention-weighted)";
  info.site = EVitImpl::kSite;
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("evit", mo, {});
    return std::make_shared<EVitImpl>(o);
  };
  return info;
}

}  // namespace laco
