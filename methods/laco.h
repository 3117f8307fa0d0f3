// `laco`: the pixel_shuffle branch plus a non-parametric shortcut, the mean of
// the r^2 channel groups of the space-to-channel tensor (r x r average pooling
// in the original feature space). Y = MLP(S) + A(S).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// Usage: LacoOptions().residual(true).zero_init(false)
struct LacoOptions {
  /// Add the averaged shortcut A(S). Off gives pixel_shuffle exactly.
  TORCH_ARG(bool, residual) = true;
  /// Zero the last Linear so that Y = A(S) at initialisation.
  TORCH_ARG(bool, zero_init) = false;
};

/// Usage: Laco c(CompressorOptions(C).ratio(2), LacoOptions().zero_init(true)); c->forward(x, grid);
class LacoImpl : public CompressorImpl {
 public:
  LacoImpl(CompressorOptions options, LacoOptions laco = {});
  double flops(Grid in) const override;
  /// The shortcut A alone, on the compressed grid (grid policy applied).
  torch::Tensor shortcut(const torch::Tensor& x, Grid grid);
  const LacoOptions& laco_options() const { return laco_; }
  torch::nn::Sequential mlp1{nullptr};

 protected:
  torch::Tensor compress_fused(const torch::Tensor& x, Grid grid) override;
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;

 private:
  LacoOptions laco_;
};
TORCH_MODULE(Laco);

MethodInfo laco_method();

}  // namespace laco
