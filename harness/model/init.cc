#include "harness/model/init.h"

#include <cmath>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/named.h"

namespace laco {
namespace {

const std::vector<NamedValue<InitScheme>>& init_schemes() {
  static const std::vector<NamedValue<InitScheme>> all = {{"reference", InitScheme::kReference},
                                                          {"trunc_normal", InitScheme::kTruncNormal},
                                                          {"torch_default", InitScheme::kTorchDefault}};
  return all;
}

}  // namespace

const std::vector<std::string>& init_scheme_names() {
  static const std::vector<std::string> names = names_of(init_schemes());
  return names;
}

InitScheme parse_init_scheme(const std::string& text, const std::string& where) {
  return find_named(init_schemes(), text, "initialisation", where).value;
}

std::string to_string(InitScheme scheme) { return name_of(init_schemes(), scheme); }

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

void init_trunc_normal_weights(torch::nn::Module& m) {
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

InitScheme init_weights(torch::nn::Module& m, InitScheme scheme, InitScheme reference) {
  if (reference == InitScheme::kReference) fail("init_weights: a method's reference scheme must be concrete");
  const InitScheme applied = scheme == InitScheme::kReference ? reference : scheme;
  // kTorchDefault: the constructors' draws (Linear kaiming_uniform(a = sqrt 5),
  // bias U(+-1/sqrt(fan_in)), LayerNorm 1/0) are already in place.
  if (applied == InitScheme::kTruncNormal) init_trunc_normal_weights(m);
  return applied;
}

}  // namespace laco
