#include "methods/laco.h"

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/init.h"
#include "methods/laco_pack_cpu.h"
#include "methods/pixel_shuffle.h"

namespace laco {

LacoImpl::LacoImpl(CompressorOptions options, LacoOptions laco)
    : CompressorImpl("laco", std::move(options)), laco_(laco) {
  if (laco_.residual() && options_.resolved_out_dim() != options_.dim())
    fail("method 'laco': the residual shortcut lives in the input space, so out_dim must equal dim ({}), got {} "
         "(or set residual=false)",
         options_.dim(), options_.out_dim());
  const int64_t r = ratio();
  mlp1 = register_module("mlp1", make_shuffle_mlp(r * r * options_.dim(), options_.resolved_out_dim()));
  init_weights(*this, options_.init(), kInternVlMlp1Init);
  if (laco_.zero_init()) {
    torch::NoGradGuard no_grad;
    // Weight and bias: PyTorch's default initialisation (the reference's) gives the bias non-zero values.
    mlp1[3]->as<torch::nn::Linear>()->weight.zero_();
    mlp1[3]->as<torch::nn::Linear>()->bias.zero_();
  }
}

torch::Tensor LacoImpl::compress_fused(const torch::Tensor& x, Grid grid) {
  // The fused pack (methods/laco_pack.h): compress()'s result (S bit for bit, A within float32 rounding).
  if (!laco_pack_applies(x, grid, ratio(), options_.grid_policy())) return {};
  const LacoPacked p = laco_pack_cpu(x, grid, ratio(), laco_.residual() ? kPackS | kPackA : kPackS);
  auto y = mlp1->forward(p.s);
  return laco_.residual() ? y + p.a : y;
}

torch::Tensor LacoImpl::compress(const torch::Tensor& x, const WorkGrid& grid, const std::vector<torch::Tensor>&) {
  const int64_t r = ratio();
  auto s = space_to_channel(x, grid.work, r);
  auto y = mlp1->forward(s);
  // The shortcut is avgpool's reduction (padding excluded from border windows).
  return laco_.residual() ? y + window_mean(s, grid, r) : y;
}

double LacoImpl::flops(Grid in) const {
  const int64_t r = ratio();
  const double mlp = shuffle_mlp_flops(output_grid(in).tokens(), r * r * options_.dim(), options_.resolved_out_dim());
  return mlp + (laco_.residual() ? static_cast<double>(work_grid(in).tokens() * options_.dim()) : 0.0);
}

torch::Tensor LacoImpl::shortcut(const torch::Tensor& x, Grid grid) {
  check_input(x, grid);
  const int64_t r = ratio();
  const Prepared p = prepare(x, grid);
  return window_mean(space_to_channel(p.x, p.grid.work, r), p.grid, r);
}

MethodInfo laco_method() {
  MethodInfo info;
  info.name = "laco";
  info.summary = "pixel_shuffle branch + non-parametric averaged shortcut: Y = MLP(S) + A(S)";
  // Its shortcut lives in the encoder's width, so after the encoder it is followed by mlp2x_gelu.
  info.reference_init = kInternVlMlp1Init;
  info.options = {{"residual", "bool, default true: add the shortcut A(S); false: the pixel_shuffle branch alone "
                               "(pixel_shuffle inside the encoder; after it, mlp2x_gelu still follows)"},
                  {"zero_init", "bool, default false: zero the last Linear so Y = A(S) at initialisation"}};
  info.make = [keys = info.option_keys()](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader reader("laco", mo, keys);
    return std::make_shared<LacoImpl>(
        o, LacoOptions().residual(reader.get_bool("residual", true)).zero_init(reader.get_bool("zero_init", false)));
  };
  return info;
}

}  // namespace laco
