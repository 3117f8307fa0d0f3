// `avgpool`: r x r average pooling, non-parametric; LaCo's shortcut on its own.
#pragma once

#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// Usage: AvgPool c(CompressorOptions(C).ratio(2)); c->forward(x, {24, 24});
class AvgPoolImpl : public CompressorImpl {
 public:
  explicit AvgPoolImpl(CompressorOptions options);
  double flops(Grid in) const override;

 protected:
  torch::Tensor compress_fused(const torch::Tensor& x, Grid grid) override;
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;
};
TORCH_MODULE(AvgPool);

MethodInfo avgpool_method();

}  // namespace laco
