// `ldpv2`: MobileVLM V2's LDPNetV2Projector. A per-token MLP, average pooling
// of the grid, then PEG (depthwise 3x3 convolution plus residual).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// Usage: Ldpv2Options().grid_out(12)
struct Ldpv2Options {
  /// 0: pool to ceil(H/r) x ceil(W/r) like every other method. N > 0: the
  /// reference's fixed N x N output (AdaptiveAvgPool2d), whatever the input grid.
  TORCH_ARG(int64_t, grid_out) = 0;
};

/// Usage: Ldpv2 c(CompressorOptions(C).ratio(2)); c->forward(x, grid);
class Ldpv2Impl : public CompressorImpl {
 public:
  Ldpv2Impl(CompressorOptions options, Ldpv2Options ldp = {});
  Output forward(const torch::Tensor& x, Grid grid, const std::vector<torch::Tensor>& features = {}) override;
  Grid output_grid(Grid in) const override;
  void check_input_grid(Grid grid) const override;
  double flops(Grid in) const override;
  /// Ours "mlp.0.weight" / "peg.weight" are the reference's "mlp.mlp.0.weight" / "peg.peg.0.weight".
  std::string reference_name(const std::string& name) const override;

  torch::nn::Sequential mlp{nullptr};
  torch::nn::Conv2d peg{nullptr};

 protected:
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;

 private:
  Ldpv2Options ldp_;
};
TORCH_MODULE(Ldpv2);

/// MobileVLM V2 builds LDPv2 from nn.Linear/nn.Conv2d and does not re-initialise them.
constexpr InitScheme kLdpv2Init = InitScheme::kTorchDefault;

MethodInfo ldpv2_method();

}  // namespace laco
