#include "harness/model/init.h"

#include <cmath>

#include <torch/torch.h>

namespace laco {

void trunc_normal_(torch::Tensor& t, double std, double a, double b) {
  // Inverse-CDF sampling, the same construction as torch.nn.init.trunc_normal_.
  torch::NoGradGuard no_grad;
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double lo = cdf(a / std), hi = cdf(b / std);
  t.uniform_(2 * lo - 1, 2 * hi - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

void init_reference_weights(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  // include_self would need `m` in a shared_ptr, which it is not while still being constructed.
  for (auto& child : m.modules(/*include_self=*/false)) {
    if (auto* linear = child->as<torch::nn::Linear>()) {
      trunc_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* ln = child->as<torch::nn::LayerNorm>()) {
      if (ln->weight.defined()) ln->weight.fill_(1.0);
      if (ln->bias.defined()) ln->bias.zero_();
    }
  }
}

}  // namespace laco
