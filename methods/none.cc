#include "methods/none.h"

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {

NoCompressionImpl::NoCompressionImpl(CompressorOptions options) : CompressorImpl("none", std::move(options)) {
  if (options_.resolved_out_dim() != options_.dim())
    fail("method 'none' is the identity: out_dim must equal dim ({}), got {}", options_.dim(), options_.out_dim());
}

CompressorImpl::Output NoCompressionImpl::forward(const torch::Tensor& x, Grid grid,
                                                  const std::vector<torch::Tensor>&) {
  check_input(x, grid);
  return {x, grid};
}

MethodInfo none_method() {
  MethodInfo info;
  info.name = "none";
  info.summary = "identity; the uncompressed reference (accuracy and cost ceiling)";
  info.reference = true;
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("none", mo, {});
    return std::make_shared<NoCompressionImpl>(o);
  };
  return info;
}

}  // namespace laco
