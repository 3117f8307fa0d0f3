#include "methods/token_reduction.h"

#include "harness/base/error.h"

namespace laco {

TokenReductionImpl::TokenReductionImpl(std::string method, CompressorOptions options)
    : CompressorImpl(std::move(method), std::move(options)) {
  if (options_.resolved_out_dim() != options_.dim())
    fail("method '{}' reduces tokens and keeps their width: out_dim must equal dim ({}), got {}", method_,
         options_.dim(), options_.out_dim());
}

int64_t TokenReductionImpl::budget(Grid in) const { return compressed_grid(in, ratio()).tokens(); }

CompressorImpl::Output TokenReductionImpl::forward(const torch::Tensor&, Grid, const std::vector<torch::Tensor>&) {
  fail("method '{}' acts {}: the encoder or the LM applies it there, not after a block", method_, to_string(site()));
}

torch::Tensor TokenReductionImpl::compress(const torch::Tensor&, const WorkGrid&, const std::vector<torch::Tensor>&) {
  fail("method '{}' acts {}: it has no grid compression", method_, to_string(site()));
}

std::pair<int64_t, int64_t> TokenReductionImpl::blocks() const {
  if (options_.block() < 1 || options_.depth() < options_.block())
    fail("method '{}' needs its block k and the encoder's depth (CompressorOptions block and depth), got k = {}, "
         "depth {}",
         method_, options_.block(), options_.depth());
  return {options_.block(), options_.depth()};
}

}  // namespace laco
