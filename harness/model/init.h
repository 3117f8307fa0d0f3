// The initialisation the references use: Linear trunc_normal(std 0.02) with
// zero bias, LayerNorm 1/0. Draws from the global generator (torch::manual_seed).
#pragma once

#include <torch/types.h>

namespace torch::nn {
class Module;
}

namespace laco {

/// In-place truncated normal on [a, b] (absolute bounds, as torch.nn.init).
void trunc_normal_(torch::Tensor& t, double std, double a = -2.0, double b = 2.0);

/// Applies the reference initialisation to every Linear and LayerNorm below `m`
/// (not `m` itself, so that constructors can call it).
void init_reference_weights(torch::nn::Module& m);

}  // namespace laco
