#include "harness/model/attention.h"

#include <cmath>
#include <limits>

#include <torch/torch.h>
#include <torch/version.h>

#include "harness/base/error.h"

namespace laco {

#if TORCH_VERSION_MAJOR >= 2
#define LACO_HAVE_SDPA 1
#else
#define LACO_HAVE_SDPA 0
#endif

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal, const torch::Tensor& mask) {
  if (mask.defined() && mask.scalar_type() != torch::kBool)
    fail("attention: the mask must be bool (true = may attend), got {}", c10::toString(mask.scalar_type()));
#if LACO_HAVE_SDPA
  // With no extra mask the kernel applies causality itself (and may pick a faster path).
  if (causal && !mask.defined()) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#endif
  torch::Tensor allowed = mask;
  if (causal) {
    // Query i sees keys 0..i (top-left aligned, as at::scaled_dot_product_attention).
    auto below = torch::ones({q.size(-2), k.size(-2)}, q.options().dtype(torch::kBool)).tril();
    allowed = allowed.defined() ? allowed.logical_and(below) : below;
  }
#if LACO_HAVE_SDPA
  const c10::optional<at::Tensor> attn_mask = allowed.defined() ? c10::optional<at::Tensor>(allowed) : c10::nullopt;
  return at::scaled_dot_product_attention(q, k, v, attn_mask, /*dropout_p=*/0.0, /*is_causal=*/false);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q, k.transpose(-2, -1)).mul_(scale);
  if (allowed.defined()) scores.masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return torch::matmul(torch::softmax(scores, -1), v);
#endif
}

const char* attention_backend() { return LACO_HAVE_SDPA ? "sdpa" : "math"; }

}  // namespace laco
