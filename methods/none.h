// `none`: the identity. The uncompressed reference, the ceiling of accuracy and of cost.
#pragma once

#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// Usage: NoCompression c(CompressorOptions(C)); c->forward(x, grid).tokens is x.
class NoCompressionImpl : public CompressorImpl {
 public:
  explicit NoCompressionImpl(CompressorOptions options);
  Output forward(const torch::Tensor& x, Grid grid, const std::vector<torch::Tensor>& features = {}) override;
  Grid output_grid(Grid in) const override { return in; }
  void check_input_grid(Grid) const override {}
  double flops(Grid) const override { return 0; }

 protected:
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid&, const std::vector<torch::Tensor>&) override {
    return x;
  }
};
TORCH_MODULE(NoCompression);

MethodInfo none_method();

}  // namespace laco
