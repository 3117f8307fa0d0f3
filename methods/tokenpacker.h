// `tokenpacker`: TokenPacker's point-to-region attention. Each query (the
// bilinearly downsampled grid) attends only to its own r x r window of keys
// and values built from several earlier encoder blocks.
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "methods/registry.h"

namespace laco {

/// Usage: TokenPackerOptions().heads(8).kv_dim(4096)
struct TokenPackerOptions {
  /// Attention heads; 0 picks the largest divisor of dim not above max(1, dim / 128).
  TORCH_ARG(int64_t, heads) = 0;
  /// Width of the concatenated key/value features; 0 means dim x levels.
  TORCH_ARG(int64_t, kv_dim) = 0;
};

/// The blocks whose hidden states feed keys and values for a compressor after
/// block k: depth fractions 1/2, 2/3, 11/12 and 1 of k, rounded, at least 1,
/// duplicates dropped (k = 24 gives 12, 16, 22, 24).
std::vector<int64_t> tokenpacker_level_blocks(int64_t k);

/// nn.MultiheadAttention's parameters (in_proj_weight [3E, E] packing q, k, v;
/// in_proj_bias; out_proj), applied to queries of length 1 over their windows.
class PackedAttentionImpl : public torch::nn::Module {
 public:
  PackedAttentionImpl(int64_t dim, int64_t heads);
  /// q [M, 1, E], k and v [M, S, E] -> [M, 1, E]. `key_mask` (optional) [M, S]
  /// bool, true at the keys a query may attend to (at least one per row).
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& key_mask = {});
  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(PackedAttention);

/// Usage: TokenPacker c(CompressorOptions(C).ratio(2).block(k)); c->forward(x, grid, hidden_states_of(c->feature_blocks()));
class TokenPackerImpl : public CompressorImpl {
 public:
  TokenPackerImpl(CompressorOptions options, TokenPackerOptions tp = {});
  std::vector<int64_t> feature_blocks() const override;
  double flops(Grid in) const override;
  int64_t heads() const { return heads_; }
  int64_t kv_dim() const { return kv_dim_; }

  // Named as in the reference's state_dict.
  torch::nn::Linear q_proj_1{nullptr};
  torch::nn::Sequential k_proj_1{nullptr}, v_proj_1{nullptr};
  torch::nn::LayerNorm ln_q_1{nullptr}, ln_k_1{nullptr}, ln_v_1{nullptr};
  PackedAttention clip_attn{nullptr};
  torch::nn::Sequential mlp{nullptr};

 protected:
  /// Without features (standalone use), x itself is the single key/value level.
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;

 private:
  int64_t heads_ = 0;
  int64_t kv_dim_ = 0;
};
TORCH_MODULE(TokenPacker);

/// TokenPacker re-initialises every Linear with trunc_normal(0.02) (after
/// nn.MultiheadAttention's xavier_uniform in-projection).
constexpr InitScheme kTokenPackerInit = InitScheme::kTruncNormal;

MethodInfo tokenpacker_method();

}  // namespace laco
