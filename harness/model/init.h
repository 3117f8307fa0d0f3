// Weight initialisation schemes. The harness's own modules (encoder, LM,
// mlp2x_gelu projector) use trunc_normal(std 0.02); each method follows the
// reference it reproduces (its MethodInfo::reference_init), and a run may
// apply one scheme to every method instead, for ablation. Draws come from the
// global generator (torch::manual_seed).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace laco {

/// How a method's weights start.
enum class InitScheme {
  kReference,    ///< what the method's reference implementation does (resolved per method)
  kTruncNormal,  ///< Linear trunc_normal(std 0.02), bias 0; LayerNorm 1/0 (TokenPacker, timm ViTs)
  kTorchDefault, ///< PyTorch's constructors: Linear kaiming_uniform(a = sqrt 5) (MobileVLM's LDPv2, InternVL 2's mlp1)
};

/// The names a user gives: reference, trunc_normal, torch_default.
const std::vector<std::string>& init_scheme_names();
/// Parses one of init_scheme_names(); an Error naming `where` and the allowed values otherwise.
InitScheme parse_init_scheme(const std::string& text, const std::string& where);
std::string to_string(InitScheme scheme);

/// In-place truncated normal on [a, b] (absolute bounds, as torch.nn.init).
void trunc_normal_(torch::Tensor& t, double std, double a = -2.0, double b = 2.0);

/// trunc_normal(0.02) on every Linear below `m` (zero bias), LayerNorm 1/0
/// (not `m` itself, so that constructors can call it).
void init_trunc_normal_weights(torch::nn::Module& m);

/// Applies `scheme` to the modules below `m`, kReference meaning `reference`.
/// kTorchDefault keeps what the LibTorch constructors drew. Returns the scheme applied.
InitScheme init_weights(torch::nn::Module& m, InitScheme scheme, InitScheme reference);

}  // namespace laco
