// `pixel_shuffle`: space-to-channel then InternVL's mlp1 projector.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// LayerNorm(in) -> Linear(in, out) -> GELU -> Linear(out, out): InternVL's
/// mlp1, whose state_dict names (0, 1, 3) the modules below keep.
torch::nn::Sequential make_shuffle_mlp(int64_t in, int64_t out);
/// FLOPs of that MLP over `tokens` merged tokens.
double shuffle_mlp_flops(int64_t tokens, int64_t in, int64_t out);

/// Y = mlp1(s2c(X, r)). Usage: PixelShuffle c(CompressorOptions(C).ratio(2)); c->forward(x, grid);
class PixelShuffleImpl : public CompressorImpl {
 public:
  explicit PixelShuffleImpl(CompressorOptions options);
  double flops(Grid in) const override;
  std::map<std::string, torch::Tensor> reference_outputs(const torch::Tensor& x, Grid grid,
                                                         const std::vector<torch::Tensor>& features) override;
  torch::nn::Sequential mlp1{nullptr};

 protected:
  torch::Tensor compress_fused(const torch::Tensor& x, Grid grid) override;
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;
};
TORCH_MODULE(PixelShuffle);

/// The options of InternVL's pixel_shuffle + mlp1 (keys vit_hidden,
/// llm_hidden, scale_factor, ps_version v2); shared with laco.
CompressorOptions internvl_options(const ReferenceConfig& config);

/// InternVL 2's modeling file builds mlp1 from nn.LayerNorm/nn.Linear and does not
/// re-initialise them: PyTorch's default. (Later InternVL versions run
/// transformers' post_init, normal(0.02); the harness follows InternVL 2,
/// whose v2 pixel shuffle it reproduces.) LaCo's MLP starts the same way.
constexpr InitScheme kInternVlMlp1Init = InitScheme::kTorchDefault;

MethodInfo pixel_shuffle_method();

}  // namespace laco
