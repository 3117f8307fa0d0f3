#include "methods/pixel_shuffle.h"

#include <cmath>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/init.h"
#include "methods/laco_pack_cpu.h"

namespace laco {

torch::nn::Sequential make_shuffle_mlp(int64_t in, int64_t out) {
  return torch::nn::Sequential(torch::nn::LayerNorm(torch::nn::LayerNormOptions({in})),
                               torch::nn::Linear(in, out), torch::nn::GELU(), torch::nn::Linear(out, out));
}

double shuffle_mlp_flops(int64_t tokens, int64_t in, int64_t out) {
  return 2.0 * static_cast<double>(tokens) * static_cast<double>(in * out + out * out);
}

PixelShuffleImpl::PixelShuffleImpl(CompressorOptions options) : CompressorImpl("pixel_shuffle", std::move(options)) {
  const int64_t r = ratio();
  mlp1 = register_module("mlp1", make_shuffle_mlp(r * r * options_.dim(), options_.resolved_out_dim()));
  init_weights(*this, options_.init(), kInternVlMlp1Init);
}

torch::Tensor PixelShuffleImpl::compress_fused(const torch::Tensor& x, Grid grid) {
  // The fused pack (methods/laco_pack.h): compress()'s result (S is a copy: bit for bit).
  if (!laco_pack_applies(x, grid, ratio(), options_.grid_policy())) return {};
  return mlp1->forward(laco_pack_cpu(x, grid, ratio(), kPackS).s);
}

torch::Tensor PixelShuffleImpl::compress(const torch::Tensor& x, const WorkGrid& grid,
                                        const std::vector<torch::Tensor>&) {
  return mlp1->forward(space_to_channel(x, grid.work, ratio()));
}

double PixelShuffleImpl::flops(Grid in) const {
  const int64_t r = ratio();
  return shuffle_mlp_flops(output_grid(in).tokens(), r * r * options_.dim(), options_.resolved_out_dim());
}

std::map<std::string, torch::Tensor> PixelShuffleImpl::reference_outputs(const torch::Tensor& x, Grid grid,
                                                                         const std::vector<torch::Tensor>& features) {
  auto outputs = CompressorImpl::reference_outputs(x, grid, features);
  const Prepared p = prepare(x, grid);
  outputs["output.shuffled"] = space_to_channel(p.x, p.grid.work, ratio());
  return outputs;
}

CompressorOptions internvl_options(const ReferenceConfig& config) {
  if (config.has("ps_version") && config.get("ps_version") != "v2")
    fail("{}: ps_version '{}' is not supported (allowed: v2; v1 transposes the merged grid)", config.source(),
         config.get("ps_version"));
  const double scale = config.get_double("scale_factor");
  const int64_t r = scale > 0 ? std::llround(1.0 / scale) : 0;
  if (r < 2 || r > 4 || std::abs(1.0 / static_cast<double>(r) - scale) > 1e-9)
    fail("{}: scale_factor {} is not 1/r for r in 2, 3, 4 (allowed: 0.5, 0.333.., 0.25)", config.source(), scale);
  return CompressorOptions(config.get_int("vit_hidden")).out_dim(config.get_int("llm_hidden")).ratio(r);
}

MethodInfo pixel_shuffle_method() {
  MethodInfo info;
  info.name = "pixel_shuffle";
  info.summary = "space-to-channel + MLP (InternVL mlp1: LN -> Linear -> GELU -> Linear)";
  info.reference_init = kInternVlMlp1Init;
  info.own_projector = true;
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("pixel_shuffle", mo, {});
    return std::make_shared<PixelShuffleImpl>(o);
  };
  info.make_reference = [](const ReferenceConfig& config) -> Compressor {
    return std::make_shared<PixelShuffleImpl>(internvl_options(config));
  };
  return info;
}

}  // namespace laco
