// A decoder-only LM with Qwen2's semantics (transformers' Qwen2ForCausalLM):
// RMSNorm, rotate-half rotary position embedding, grouped-query attention with
// biased q/k/v and unbiased o_proj, SwiGLU MLP, a tied or untied LM head.
// Parameter names are Qwen2's less the self_attn./mlp. levels
// (harness/model/checkpoint.cc maps them).
#pragma once

#include <cstdint>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "harness/model/lm_prune.h"

namespace laco {

/// Usage: LmOptions().width(896).layers(24).heads(14).kv_heads(2).mlp_dim(4864).vocab(151936)
struct LmOptions {
  /// Throws unless heads divide width and kv_heads divide heads.
  void validate() const;
  int64_t head_dim() const { return width_ / heads_; }

  TORCH_ARG(int64_t, vocab) = 151936;
  TORCH_ARG(int64_t, width) = 896;
  TORCH_ARG(int64_t, layers) = 24;
  TORCH_ARG(int64_t, heads) = 14;
  TORCH_ARG(int64_t, kv_heads) = 2;
  TORCH_ARG(int64_t, mlp_dim) = 4864;
  TORCH_ARG(double, rope_theta) = 1e6;
  TORCH_ARG(double, rms_eps) = 1e-6;
  /// true: the logits reuse embed_tokens (Qwen2-0.5B, 1.5B); false: a separate lm_head (Qwen2-7B).
  TORCH_ARG(bool, tie_embeddings) = true;
};

/// y = x / rms(x) * weight.
class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

/// One layer's cached keys and values, the keys after RoPE, both before the
/// grouped-query repeat (what a Qwen2 KV cache holds): [B, kv_heads,
/// positions, head_dim] each, or, in a cache with a capacity, the first
/// positions of a [B, kv_heads, capacity, head_dim] buffer allocated by the
/// first forward. Undefined until then.
struct LayerCache {
  torch::Tensor k, v;
  int64_t length = 0;
  int64_t positions() const { return length; }
};

/// The KV cache of a decoder LM: one LayerCache per layer, every layer
/// holding the same positions 0..positions()-1 (after a FastV pruning, the
/// layers after K hold fewer: positions() is the first layer's, the
/// sequence's length). With a capacity (the prompt
/// plus the tokens to generate but the last) the buffers are allocated once,
/// at the prefill, and each step writes its keys and values in place, as
/// serving engines (vLLM, llama.cpp, transformers' StaticCache) do; without
/// one, each step concatenates (transformers' DynamicCache), copying the
/// whole cache per step.
/// Usage: KvCache cache(prompt + n - 1); lm->forward(prompt, cache); lm->forward(next, cache);
struct KvCache {
  KvCache() = default;
  explicit KvCache(int64_t capacity) : capacity(capacity) {}
  int64_t capacity = 0;  ///< 0: grow by concatenation
  std::vector<LayerCache> layers;
  int64_t positions() const { return layers.empty() ? 0 : layers.front().positions(); }
  /// Bytes the cache's tensors hold (all layers, keys and values, every
  /// request of the batch; with a capacity, the whole buffers).
  int64_t bytes() const;
};

/// RMSNorm -> GQA self-attention (RoPE, causal) -> residual, RMSNorm -> SwiGLU -> residual.
class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const LmOptions& options);
  /// x [B, T, D]; cos/sin [T, head_dim] from rope_tables() for x's positions.
  /// With `cache`, x continues the positions the cache holds: its queries
  /// attend to the cached keys and to x's own causally, and x's keys and
  /// values are appended to the cache (in place in a buffer of `capacity`
  /// positions when > 0, KvCache's).
  /// cos/sin may also be [B, 1, T, head_dim] (per request, after a pruning).
  /// `last_attention`, when given, receives the last query's attention
  /// probabilities over every key it sees, averaged over heads: [B, keys].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        LayerCache* cache = nullptr, int64_t capacity = 0, torch::Tensor* last_attention = nullptr);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(DecoderLayer);

/// Usage: DecoderLM lm(LmOptions()); auto h = lm->forward(lm->embed(ids)); auto logits = lm->logits(h);
class DecoderLMImpl : public torch::nn::Module {
 public:
  explicit DecoderLMImpl(LmOptions options);
  /// Token ids [B, T] -> embeddings [B, T, D].
  torch::Tensor embed(const torch::Tensor& ids);
  /// Embeddings [B, T, D] -> final-normed hidden states [B, T, D] (causal).
  /// With an active `prune` (FastV, harness/model/lm_prune.h), layers after
  /// prune.after_layer run on the kept positions only, at their original
  /// positions: [B, T - prune.dropped(), D].
  torch::Tensor forward(const torch::Tensor& embeddings, const LmPrune& prune = {});
  /// The same for embeddings at positions cache.positions().. that follow
  /// what the cache holds (empty: a prefill), appending their keys and values:
  /// a prompt, then one generated token at a time, gives the hidden states
  /// forward() gives for the whole sequence (tests/test_lm.cc). A `prune`
  /// applies to a prefill only (FastV prunes the prompt once): the layers
  /// after K then cache the kept positions only, in buffers that much shorter,
  /// and later steps continue at the original positions.
  torch::Tensor forward(const torch::Tensor& embeddings, KvCache& cache, const LmPrune& prune = {});
  /// Hidden states [..., D] -> logits [..., vocab] through lm_head, or the embedding when tied.
  torch::Tensor logits(const torch::Tensor& hidden);
  /// cos and sin tables [T, head_dim] for positions start..start+T-1.
  std::pair<torch::Tensor, torch::Tensor> rope_tables(int64_t tokens, const torch::TensorOptions& options,
                                                      int64_t start = 0) const;
  const LmOptions& options() const { return options_; }
  /// Activation checkpointing of the layers (harness/model/activation_checkpoint.h):
  /// when on, forward() without a KV cache (training) runs each layer whose
  /// input requires a gradient (grad mode on) through checkpointed(), keeping
  /// only the layer's input for the backward, which runs the layer again
  /// (FastV's scores come from the first run). Same values and gradients;
  /// inference and the cached forward run as when off. Off by default.
  /// Usage: lm->set_activation_checkpointing(true); loss.backward();
  void set_activation_checkpointing(bool on) { activation_checkpointing_ = on; }
  bool activation_checkpointing() const { return activation_checkpointing_; }

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  ///< registered only without tie_embeddings

 private:
  torch::Tensor run_layers(torch::Tensor x, torch::Tensor cos, torch::Tensor sin, KvCache* cache, const LmPrune& prune);
  LmOptions options_;
  bool activation_checkpointing_ = false;
};
TORCH_MODULE(DecoderLM);

}  // namespace laco
