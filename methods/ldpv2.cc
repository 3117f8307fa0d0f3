#include "methods/ldpv2.h"

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/init.h"

namespace laco {

Ldpv2Impl::Ldpv2Impl(CompressorOptions options, Ldpv2Options ldp)
    : CompressorImpl("ldpv2", std::move(options)), ldp_(ldp) {
  if (ldp_.grid_out() < 0) fail("method 'ldpv2': grid_out must be >= 0, got {}", ldp_.grid_out());
  const int64_t in = options_.dim(), out = options_.resolved_out_dim();
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(in, out), torch::nn::GELU(),
                                                     torch::nn::Linear(out, out)));
  peg = register_module(
      "peg", torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).stride(1).padding(1).groups(out).bias(true)));
  init_weights(*this, options_.init(), kLdpv2Init);
}

Grid Ldpv2Impl::output_grid(Grid in) const {
  if (ldp_.grid_out() > 0) return {ldp_.grid_out(), ldp_.grid_out()};
  return CompressorImpl::output_grid(in);
}

void Ldpv2Impl::check_input_grid(Grid grid) const {
  if (ldp_.grid_out() == 0) return CompressorImpl::check_input_grid(grid);
  if (grid.h < ldp_.grid_out() || grid.w < ldp_.grid_out())
    fail("method 'ldpv2': grid {} is smaller than the fixed output grid {}x{}", grid.str(), ldp_.grid_out(),
         ldp_.grid_out());
}

CompressorImpl::Output Ldpv2Impl::forward(const torch::Tensor& x, Grid grid,
                                          const std::vector<torch::Tensor>& features) {
  if (ldp_.grid_out() == 0) return CompressorImpl::forward(x, grid, features);
  // The fixed-grid reference pools any grid adaptively: no grid policy applies.
  check_input(x, grid);
  check_input_grid(grid);
  return {compress(x, WorkGrid{grid, grid}, features), output_grid(grid)};
}

torch::Tensor Ldpv2Impl::compress(const torch::Tensor& x, const WorkGrid& grid, const std::vector<torch::Tensor>&) {
  const int64_t r = ratio();
  const Grid out = ldp_.grid_out() > 0 ? output_grid(grid.work) : Grid{grid.work.h / r, grid.work.w / r};
  auto y = mlp->forward(x);
  torch::Tensor img;
  if (grid.padded()) {
    // A zero pad token leaves the MLP as whatever its biases make of it
    // (non-zero once trained), so pads are zeroed after it and each window
    // averages its valid tokens only.
    y = y.masked_fill(valid_token_mask(grid, y.options()).logical_not().view({1, grid.work.tokens(), 1}), 0.0);
    img = tokens_to_image(window_mean(space_to_channel(y, grid.work, r), grid, r), out);
  } else {
    img = torch::adaptive_avg_pool2d(tokens_to_image(y, grid.work), {out.h, out.w});
  }
  return image_to_tokens(peg->forward(img) + img);
}

double Ldpv2Impl::flops(Grid in) const {
  const double n = static_cast<double>(ldp_.grid_out() > 0 ? in.tokens() : work_grid(in).tokens());
  const double n_out = static_cast<double>(output_grid(in).tokens());
  const double c = static_cast<double>(options_.dim()), co = static_cast<double>(options_.resolved_out_dim());
  // Per-token MLP, the pooling (one add per element), the depthwise 3x3 convolution.
  return 2.0 * n * (c * co + co * co) + n * co + 2.0 * 9.0 * n_out * co;
}

std::string Ldpv2Impl::reference_name(const std::string& name) const {
  if (name.rfind("mlp.", 0) == 0) return "mlp." + name;
  if (name.rfind("peg.", 0) == 0) return "peg.peg.0." + name.substr(4);
  return name;
}

MethodInfo ldpv2_method() {
  MethodInfo info;
  info.name = "ldpv2";
  info.summary = "MobileVLM V2 LDPv2: per-token MLP -> average pooling -> PEG (depthwise 3x3 conv + residual)";
  info.reference_init = kLdpv2Init;
  info.own_projector = true;
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("ldpv2", mo, {});
    return std::make_shared<Ldpv2Impl>(o);
  };
  info.make_reference = [](const ReferenceConfig& config) -> Compressor {
    const int64_t grid_in = config.get_int("grid_in"), grid_out = config.get_int("grid_out");
    if (grid_out < 1 || grid_out > grid_in)
      fail("{}: grid_out {} must lie in 1..grid_in ({})", config.source(), grid_out, grid_in);
    // The ratio only labels the run here: the fixed output grid decides the pooling.
    const int64_t r = std::clamp<int64_t>((grid_in + grid_out - 1) / grid_out, 2, 4);
    return std::make_shared<Ldpv2Impl>(
        CompressorOptions(config.get_int("mm_hidden_size")).out_dim(config.get_int("hidden_size")).ratio(r),
        Ldpv2Options().grid_out(grid_out));
  };
  return info;
}

}  // namespace laco
