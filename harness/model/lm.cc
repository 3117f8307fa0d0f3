#include "harness/model/lm.h"

#include <cmath>
#include <memory>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/activation_checkpoint.h"
#include "harness/model/attention.h"
#include "harness/model/init.h"
#include "harness/model/token_prune.h"

namespace laco {

void LmOptions::validate() const {
  if (vocab_ < 1 || width_ < 1 || layers_ < 1 || mlp_dim_ < 1)
    fail("lm: vocab, width, layers and mlp_dim must be positive");
  if (heads_ < 1 || width_ % heads_ != 0) fail("lm: heads ({}) must divide width ({})", heads_, width_);
  if (head_dim() % 2 != 0) fail("lm: head_dim ({}) must be even for rotary embedding", head_dim());
  if (kv_heads_ < 1 || heads_ % kv_heads_ != 0) fail("lm: kv_heads ({}) must divide heads ({})", kv_heads_, heads_);
}

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps_) * weight;
}

namespace {

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

}  // namespace

DecoderLayerImpl::DecoderLayerImpl(const LmOptions& o)
    : heads_(o.heads()), kv_heads_(o.kv_heads()), head_dim_(o.head_dim()) {
  const int64_t d = o.width(), q = heads_ * head_dim_, kv = kv_heads_ * head_dim_;
  using torch::nn::Linear;
  using torch::nn::LinearOptions;
  input_layernorm = register_module("input_layernorm", RMSNorm(d, o.rms_eps()));
  q_proj = register_module("q_proj", Linear(LinearOptions(d, q).bias(true)));
  k_proj = register_module("k_proj", Linear(LinearOptions(d, kv).bias(true)));
  v_proj = register_module("v_proj", Linear(LinearOptions(d, kv).bias(true)));
  o_proj = register_module("o_proj", Linear(LinearOptions(q, d).bias(false)));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(d, o.rms_eps()));
  gate_proj = register_module("gate_proj", Linear(LinearOptions(d, o.mlp_dim()).bias(false)));
  up_proj = register_module("up_proj", Linear(LinearOptions(d, o.mlp_dim()).bias(false)));
  down_proj = register_module("down_proj", Linear(LinearOptions(o.mlp_dim(), d).bias(false)));
}

int64_t KvCache::bytes() const {
  int64_t n = 0;
  for (const auto& l : layers)
    for (const auto* t : {&l.k, &l.v})
      if (t->defined()) n += static_cast<int64_t>(t->nbytes());
  return n;
}

namespace {

// Appends x's keys (or values) [B, kv_heads, t, head_dim] after the cached
// positions and returns every position's, 0..past + t - 1.
torch::Tensor append(torch::Tensor& stored, const torch::Tensor& x, int64_t past, int64_t capacity) {
  const int64_t t = x.size(2);
  if (capacity == 0) {  // as a Qwen2 DynamicCache: a concatenation per step
    stored = past ? torch::cat({stored, x}, 2) : x.contiguous();
    return stored;
  }
  if (stored.defined()) capacity = stored.size(2);  // a layer's buffer may be shorter than the cache's (LmPrune)
  if (past + t > capacity)
    fail("lm: the KV cache holds {} positions and has room for {}; {} more do not fit", past, capacity, t);
  if (!stored.defined()) stored = torch::empty({x.size(0), x.size(1), capacity, x.size(3)}, x.options());
  stored.narrow(2, past, t).copy_(x);
  return stored.narrow(2, 0, past + t);
}

}  // namespace

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        LayerCache* cache, int64_t capacity, torch::Tensor* last_attention) {
  const int64_t b = x.size(0), t = x.size(1), groups = heads_ / kv_heads_;
  auto h = input_layernorm->forward(x);
  auto q = q_proj->forward(h).view({b, t, heads_, head_dim_}).transpose(1, 2);
  auto k = k_proj->forward(h).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  auto v = v_proj->forward(h).view({b, t, kv_heads_, head_dim_}).transpose(1, 2);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  const int64_t past = cache ? cache->positions() : 0;
  if (cache) {
    k = append(cache->k, k, past, capacity);
    v = append(cache->v, v, past, capacity);
    cache->length = past + t;
  }
  if (last_attention) {
    // The last query's row, recomputed: [B, kv_heads, groups, keys], then the mean over its heads.
    auto last = q.narrow(2, t - 1, 1).reshape({b, kv_heads_, groups, head_dim_});
    auto logits = torch::matmul(last, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(head_dim_)));
    *last_attention = torch::softmax(logits, -1).mean(std::vector<int64_t>{1, 2});
  }
  torch::Tensor attn;
  if (past > 0 && t == 1) {
    // One new position sees every cached one and itself. The query heads of
    // a KV head are its rows: [B, kv_heads, groups, head_dim] against the
    // cache as stored, so a step reads each cached key and value once
    // instead of materialising the grouped-query repeat.
    attn = attention(q.reshape({b, kv_heads_, groups, head_dim_}), k, v).reshape({b, heads_, 1, head_dim_});
  } else {
    if (groups > 1) {
      // Grouped-query attention: each KV head serves heads/kv_heads query heads.
      k = k.repeat_interleave(groups, 1);
      v = v.repeat_interleave(groups, 1);
    }
    if (past == 0) {
      attn = attention(q, k, v, /*causal=*/true);
    } else {
      // Query i sits at position past + i and sees keys 0..past + i.
      auto rows = torch::arange(t, x.options().dtype(torch::kLong)).unsqueeze(1) + past;
      auto cols = torch::arange(past + t, x.options().dtype(torch::kLong)).unsqueeze(0);
      attn = attention(q, k, v, /*causal=*/false, cols.le(rows));
    }
  }
  attn = attn.transpose(1, 2).reshape({b, t, heads_ * head_dim_});
  auto r = x + o_proj->forward(attn);
  auto m = post_attention_layernorm->forward(r);
  return r + down_proj->forward(torch::silu(gate_proj->forward(m)) * up_proj->forward(m));
}

DecoderLMImpl::DecoderLMImpl(LmOptions options) : options_(std::move(options)) {
  options_.validate();
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(options_.vocab(), options_.width()));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.layers(); ++i) layers->push_back(DecoderLayer(options_));
  norm = register_module("norm", RMSNorm(options_.width(), options_.rms_eps()));
  if (!options_.tie_embeddings())
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(options_.width(), options_.vocab()).bias(false)));
  init_trunc_normal_weights(*this);
  torch::NoGradGuard no_grad;
  embed_tokens->weight.normal_(0.0, 0.02);
}

torch::Tensor DecoderLMImpl::embed(const torch::Tensor& ids) { return embed_tokens->forward(ids); }

std::pair<torch::Tensor, torch::Tensor> DecoderLMImpl::rope_tables(int64_t tokens, const torch::TensorOptions& options,
                                                                   int64_t start) const {
  const int64_t hd = options_.head_dim();
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(options.device());
  // As Qwen2's rotary embedding computes it: 1 / theta^(2i / head_dim) in float32.
  auto inv_freq = 1.0 / torch::pow(options_.rope_theta(), torch::arange(0, hd, 2, f32) / static_cast<double>(hd));
  auto freqs = torch::outer(torch::arange(start, start + tokens, f32), inv_freq);
  auto emb = torch::cat({freqs, freqs}, -1);
  return {emb.cos().to(options.dtype()), emb.sin().to(options.dtype())};
}

torch::Tensor DecoderLMImpl::forward(const torch::Tensor& embeddings, const LmPrune& prune) {
  auto [cos, sin] = rope_tables(embeddings.size(1), embeddings.options());
  return run_layers(embeddings, cos, sin, nullptr, prune);
}

torch::Tensor DecoderLMImpl::forward(const torch::Tensor& embeddings, KvCache& cache, const LmPrune& prune) {
  const int64_t past = cache.positions();
  if (cache.layers.empty()) cache.layers.resize(static_cast<size_t>(options_.layers()));
  if (static_cast<int64_t>(cache.layers.size()) != options_.layers())
    fail("lm: the KV cache has {} layers, the LM {}", cache.layers.size(), options_.layers());
  if (past && cache.layers.front().k.size(0) != embeddings.size(0))
    fail("lm: the KV cache holds {} sequences, the input {}", cache.layers.front().k.size(0), embeddings.size(0));
  auto [cos, sin] = rope_tables(embeddings.size(1), embeddings.options(), past);
  return run_layers(embeddings, cos, sin, &cache, past == 0 ? prune : LmPrune{});
}

torch::Tensor DecoderLMImpl::run_layers(torch::Tensor x, torch::Tensor cos, torch::Tensor sin, KvCache* cache,
                                        const LmPrune& prune) {
  const int64_t layers_n = options_.layers(), t = x.size(1);
  if (prune.active()) {
    if (prune.after_layer >= layers_n)
      fail("lm: pruning after layer {} leaves no layer of {} to run on the kept tokens (allowed: 1..{})",
           prune.after_layer, layers_n, layers_n - 1);
    if (prune.start < 0 || prune.count < 1 || prune.start + prune.count > t || prune.keep < 1 || prune.keep > prune.count)
      fail("lm: pruning keeps {} of positions {}..{}, which a prompt of {} positions cannot give", prune.keep,
           prune.start, prune.start + prune.count - 1, t);
  }
  for (int64_t i = 0; i < layers_n; ++i) {
    const bool scores = prune.active() && i + 1 == prune.after_layer;
    int64_t capacity = cache ? cache->capacity : 0;
    if (capacity > 0 && prune.active() && i >= prune.after_layer) capacity -= prune.dropped();
    torch::Tensor score;
    if (activation_checkpointing_ && !cache && checkpoints(x)) {
      // The scores FastV ranks by come from the checkpoint's first run (only
      // their order is used, no gradient flows through them); the backward's
      // rerun leaves them alone. cos and sin, captured, require no gradient.
      const auto layer = layers->ptr<DecoderLayerImpl>(static_cast<size_t>(i));
      const auto first_score = std::make_shared<torch::Tensor>();
      x = checkpointed(
          [layer, cos, sin, scores, first_score](const torch::Tensor& in) {
            const bool want = scores && !first_score->defined();
            return layer->forward(in, cos, sin, nullptr, 0, want ? first_score.get() : nullptr);
          },
          x);
      score = *first_score;
    } else {
      x = layers[i]->as<DecoderLayer>()->forward(x, cos, sin, cache ? &cache->layers[static_cast<size_t>(i)] : nullptr,
                                                 capacity, scores ? &score : nullptr);
    }
    if (scores) {
      const auto kept = kept_positions(keep_visual(score.narrow(1, prune.start, prune.count), prune.start, prune.keep),
                                       prune.start, prune.count, t);
      x = x.gather(1, kept.unsqueeze(-1).expand({kept.size(0), kept.size(1), x.size(2)}));
      cos = cos.index({kept}).unsqueeze(1);
      sin = sin.index({kept}).unsqueeze(1);
    }
  }
  return norm->forward(x);
}

torch::Tensor DecoderLMImpl::logits(const torch::Tensor& hidden) {
  return torch::matmul(hidden, (lm_head ? lm_head->weight : embed_tokens->weight).t());
}

}  // namespace laco
