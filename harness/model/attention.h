// Scaled dot-product attention through the fastest kernel this LibTorch has.
#pragma once

#include <torch/types.h>

namespace laco {

/// softmax(q k^T / sqrt(d)) v for q [..., Nq, d], k and v [..., Nk, d].
/// Torch 2.x: at::scaled_dot_product_attention (flash / memory-efficient
/// kernels); Torch 1.13 (Debian): an explicit, numerically equivalent form.
/// `mask` (optional): bool, broadcastable to [..., Nq, Nk], true where a query
/// may attend (at::scaled_dot_product_attention's convention); a masked key
/// gets weight exactly 0. Every query must keep at least one key.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal = false, const torch::Tensor& mask = {});

/// Which kernel attention() uses, for provenance ("sdpa" or "math").
const char* attention_backend();

}  // namespace laco
