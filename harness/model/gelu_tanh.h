// The tanh-approximated GELU of the encoder MLP, in place, as one vectorised
// pass. In Debian's LibTorch 1.13 at::gelu(x, "tanh") is 3-4x slower than its
// exact (erf) GELU: on a [845, 960] float tensor (one cpu-small encoder MLP,
// run 26 times per forward), one thread, 2.5 ms against 0.6 ms; this pass
// takes 0.77 ms (2026-12-02, this machine; gelu_tanh.cc).
#pragma once

#include <torch/types.h>

namespace laco {

/// x <- 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed as
/// x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))) with a Cephes-style exp
/// (relative error ~1e-6 against a float64 evaluation; LibTorch's float
/// formula loses up to 5e-5 to cancellation where GELU is small). Contiguous
/// float32 CPU tensors take the vectorised pass; any other tensor
/// at::gelu_(x, "tanh"). No autograd: for inference only (the caller
/// checks that no gradient is wanted). Usage: gelu_tanh_(fc1_out);
torch::Tensor& gelu_tanh_(torch::Tensor& x);

}  // namespace laco
