#include "harness/model/attention.h"

#include <cmath>

#include <torch/torch.h>
#include <torch/version.h>

namespace laco {

#if TORCH_VERSION_MAJOR >= 2
#define LACO_HAVE_SDPA 1
#else
#define LACO_HAVE_SDPA 0
#endif

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        bool causal) {
#if LACO_HAVE_SDPA
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = torch::matmul(q, k.transpose(-2, -1)).mul_(scale);
  if (causal) {
    // Query i sees keys 0..i (top-left aligned, as at::scaled_dot_product_attention).
    auto mask = torch::ones({q.size(-2), k.size(-2)}, q.options().dtype(torch::kBool)).triu(1);
    scores.masked_fill_(mask, -std::numeric_limits<float>::infinity());
  }
  return torch::matmul(torch::softmax(scores, -1), v);
#endif
}

const char* attention_backend() { return LACO_HAVE_SDPA ? "sdpa" : "math"; }

}  // namespace laco
