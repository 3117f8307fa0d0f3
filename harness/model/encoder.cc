#include "harness/model/encoder.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/activation_checkpoint.h"
#include "harness/model/attention.h"
#include "harness/model/gelu_tanh.h"
#include "harness/model/init.h"
#include "harness/model/token_merge.h"

namespace laco {

const char* encoder_inference_kernels(const EncoderOptions& options) {
  return options.fused_inference() ? "native_mha+gelu_tanh_vec" : "composed";
}

Grid EncoderOptions::grid() const { return {image_size_ / patch_size_, image_size_ / patch_size_}; }

void EncoderOptions::validate() const {
  if (patch_size_ < 1 || image_size_ < patch_size_)
    fail("encoder: image_size ({}) must be at least patch_size ({}) and both positive", image_size_, patch_size_);
  if (depth_ < 1) fail("encoder: depth must be >= 1, got {}", depth_);
  if (heads_ < 1 || width_ % heads_ != 0) fail("encoder: heads ({}) must divide width ({})", heads_, width_);
  if (mlp_dim_ < 1 || channels_ < 1) fail("encoder: mlp_dim and channels must be positive");
}

EncoderBlockImpl::EncoderBlockImpl(int64_t width, int64_t heads, int64_t mlp_dim, double ln_eps, bool fused_inference)
    : heads_(heads), fused_inference_(fused_inference) {
  ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(ln_eps)));
  qkv = register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj = register_module("proj", torch::nn::Linear(width, width));
  ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(ln_eps)));
  fc1 = register_module("fc1", torch::nn::Linear(width, mlp_dim));
  fc2 = register_module("fc2", torch::nn::Linear(mlp_dim, width));
}

bool EncoderBlockImpl::takes_fused(const torch::Tensor& x) const {
  if (!fused_inference_) return false;
  if (!torch::GradMode::is_enabled()) return true;
  if (x.requires_grad()) return false;
  for (const auto& p : parameters()) if (p.requires_grad()) return false;
  return true;
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x) {
  return takes_fused(x) ? forward_fused(x) : forward_composed(x);
}

torch::Tensor EncoderBlockImpl::forward_fused(const torch::Tensor& x) {
  const int64_t c = x.size(2);
  auto y = ln1->forward(x);
  auto h = std::get<0>(at::_native_multi_head_attention(y, y, y, c, heads_, qkv->weight, qkv->bias, proj->weight,
                                                         proj->bias, /*mask=*/{}, /*need_weights=*/false));
  h.add_(x);
  auto m = fc1->forward(ln2->forward(h));
  gelu_tanh_(m);
  return fc2->forward(m).add_(h);
}

torch::Tensor EncoderBlockImpl::forward_composed(const torch::Tensor& x) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2), d = c / heads_;
  // [B, N, 3, heads, d] -> three [B, heads, N, d]
  auto qkv_out = qkv->forward(ln1->forward(x)).view({b, n, 3, heads_, d}).permute({2, 0, 3, 1, 4});
  auto attn = attention(qkv_out[0], qkv_out[1], qkv_out[2]).transpose(1, 2).reshape({b, n, c});
  auto h = x + proj->forward(attn);
  auto mlp = fc2->forward(torch::gelu(fc1->forward(ln2->forward(h)), "tanh"));
  return h + mlp;
}

std::pair<torch::Tensor, torch::Tensor> EncoderBlockImpl::forward_reducing(const torch::Tensor& x,
                                                                         const torch::Tensor& size,
                                                                         const Reduction& reduce) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2), d = c / heads_;
  auto qkv_out = qkv->forward(ln1->forward(x)).view({b, n, 3, heads_, d}).permute({2, 0, 3, 1, 4});
  const auto q = qkv_out[0], k = qkv_out[1], v = qkv_out[2];
  auto logits = torch::matmul(q, k.transpose(-2, -1)).mul_(1.0 / std::sqrt(static_cast<double>(d)));
  if (size.defined()) logits = logits + proportional_attention_bias(size);
  const auto probs = torch::softmax(logits, -1);
  const auto attn = torch::matmul(probs, v).transpose(1, 2).reshape({b, n, c});
  const auto h = x + proj->forward(attn);
  auto [reduced, reduced_size] = reduce(h, size, Attention{k, probs});
  auto mlp = fc2->forward(torch::gelu(fc1->forward(ln2->forward(reduced)), "tanh"));
  return {reduced + mlp, reduced_size};
}

std::pair<torch::Tensor, torch::Tensor> EncoderBlockImpl::forward_merging(const torch::Tensor& x,
                                                                        const torch::Tensor& size,
                                                                        const std::vector<int64_t>& r) {
  return forward_reducing(x, size, [&r](const torch::Tensor& h, const torch::Tensor& s, const Attention& a) {
    auto out = std::make_pair(h, s);
    auto metric = a.keys.mean(1);
    for (size_t i = 0; i < r.size(); ++i) {
      const auto m = bipartite_soft_matching(metric, r[i]);
      if (i + 1 < r.size()) metric = merge_weighted(m, metric, out.second).first;
      out = merge_weighted(m, out.first, out.second);
    }
    if (r.empty() && !out.second.defined()) out.second = torch::ones({h.size(0), h.size(1), 1}, h.options());
    return out;
  });
}

VisionEncoderImpl::VisionEncoderImpl(EncoderOptions options) : options_(std::move(options)) {
  options_.validate();
  const int64_t c = options_.width();
  patch_embed = register_module(
      "patch_embed",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(options_.channels(), c, options_.patch_size()).stride(options_.patch_size())));
  pos_embed = register_parameter("pos_embed", torch::empty({1, options_.grid().tokens(), c}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options_.depth(); ++i)
    blocks->push_back(EncoderBlock(c, options_.heads(), options_.mlp_dim(), options_.ln_eps(), options_.fused_inference()));
  if (options_.post_layernorm())
    post_layernorm =
        register_module("post_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c}).eps(options_.ln_eps())));
  init_trunc_normal_weights(*this);
  init_position_embedding();
}

void VisionEncoderImpl::init_position_embedding() {
  torch::NoGradGuard no_grad;
  const Grid g = options_.grid();
  const int64_t c = options_.width();
  if (c % 4 != 0) {
    trunc_normal_(pos_embed, 0.02);
    return;
  }
  // 2-D sin-cos values (as MAE initialises its ViT): half the channels encode
  // the row, half the column. Still a learned parameter; a trained model
  // starts from positions that already vary smoothly across the grid.
  const int64_t quarter = c / 4;
  auto omega = 1.0 / torch::pow(10000.0, torch::arange(quarter, torch::kFloat64) / static_cast<double>(quarter));
  auto rows = torch::arange(g.h, torch::kFloat64).repeat_interleave(g.w);
  auto cols = torch::arange(g.w, torch::kFloat64).repeat({g.h});
  auto r = torch::outer(rows, omega), q = torch::outer(cols, omega);
  pos_embed.copy_(torch::cat({r.sin(), r.cos(), q.sin(), q.cos()}, 1).unsqueeze(0).to(pos_embed.dtype()));
}

void VisionEncoderImpl::set_compressor(Compressor compressor, int64_t k) {
  if (!compressor) fail("encoder: set_compressor needs a compressor (use clear_compressor to remove one)");
  if (k < 1 || k > options_.depth())
    fail("encoder: compressor block k = {} is outside 1..{} (the encoder's depth)", k, options_.depth());
  // After the last block no block reads the output, so only there may it
  // leave the encoder's width (a method that is the projector maps to the LM's).
  const bool inside = k < options_.depth();
  if (compressor->options().dim() != options_.width() ||
      (inside && compressor->options().resolved_out_dim() != options_.width()))
    fail("encoder: method '{}' maps width {} -> {}, but inside the encoder both must be {}{}", compressor->method(),
         compressor->options().dim(), compressor->options().resolved_out_dim(), options_.width(),
         inside ? "" : " (after the last block only the input width must)");
  if (compressor->site() != MethodSite::kAfterBlock && compressor->options().resolved_out_dim() != options_.width())
    fail("encoder: method '{}' reduces tokens {}: it keeps their width {}, not {}", compressor->method(),
         to_string(compressor->site()), options_.width(), compressor->options().resolved_out_dim());
  if (compressor->site() == MethodSite::kInLm && k != options_.depth())
    fail("encoder: method '{}' acts inside the LM, so the encoder's tokens leave it complete: its placement is after "
         "the last block (k = {}, placement 1), not k = {}",
         compressor->method(), options_.depth(), k);
  compressor->check_input_grid(options_.grid());
  for (int64_t b : compressor->feature_blocks())
    if (b < 1 || b > k)
      fail("encoder: method '{}' needs the hidden state of block {}, which does not precede k = {}",
           compressor->method(), b, k);
  clear_compressor();
  compressor_ = register_module("compressor", std::move(compressor));
  compressor_block_ = k;
}

void VisionEncoderImpl::clear_compressor() {
  if (compressor_) unregister_module("compressor");
  compressor_.reset();
  compressor_block_ = 0;
}

Grid VisionEncoderImpl::output_grid() const {
  return compressor_ ? compressor_->output_grid(options_.grid()) : options_.grid();
}

VisionEncoderImpl::Output VisionEncoderImpl::forward(const torch::Tensor& images, const std::vector<int64_t>& keep) {
  const int64_t s = options_.image_size();
  if (images.dim() != 4 || images.size(1) != options_.channels() || images.size(2) != s || images.size(3) != s)
    fail("encoder: images must be [B, {}, {}, {}], got {}", options_.channels(), s, s,
         fmt::format("[{}]", fmt::join(images.sizes(), ", ")));
  for (int64_t b : keep)
    if (b < 1 || b > options_.depth()) fail("encoder: cannot return block {} of a {}-block encoder", b, options_.depth());

  std::set<int64_t> wanted(keep.begin(), keep.end());
  std::vector<int64_t> features;
  if (compressor_) features = compressor_->feature_blocks();
  std::map<int64_t, torch::Tensor> states;

  Grid grid = options_.grid();
  const Grid in = grid;
  const bool in_blocks = compressor_ && compressor_->site() == MethodSite::kInBlocks;
  torch::Tensor size;  // patches per token, once a method inside the blocks merges them
  auto x = patch_embed->forward(images).flatten(2).transpose(1, 2) + pos_embed;
  for (int64_t i = 1; i <= options_.depth(); ++i) {
    auto& block = *blocks[i - 1]->as<EncoderBlock>();
    if (in_blocks && i >= compressor_block_) {
      std::tie(x, size) = compressor_->forward_block(block, x, size, i, in);
      grid = compressor_->output_grid(in);
    } else if (activation_checkpointing_ && checkpoints(x)) {
      // The composed form, which block.forward takes too when x requires a
      // gradient; inside the checkpoint's gradient-free forward it would
      // take the fused kernels, and the backward would recompute another form.
      const auto b = blocks->ptr<EncoderBlockImpl>(static_cast<size_t>(i - 1));
      x = checkpointed([b](const torch::Tensor& in) { return b->forward_composed(in); }, x);
    } else {
      x = block.forward(x);
    }
    if (wanted.count(i) || std::count(features.begin(), features.end(), i)) states[i] = x;
    if (post_layernorm && i == options_.depth()) x = post_layernorm->forward(x);
    if (compressor_ && i == compressor_block_ && compressor_->site() == MethodSite::kAfterBlock) {
      std::vector<torch::Tensor> feats;
      for (int64_t b : features) feats.push_back(states.at(b));
      auto out = compressor_->forward(x, grid, feats);
      x = out.tokens;
      grid = out.grid;
    }
  }
  if (x.size(1) != grid.tokens())
    fail("encoder: method '{}' left {} tokens, its output grid {} has {}", compressor_->method(), x.size(1), grid.str(),
         grid.tokens());
  Output result{x, grid, {}};
  for (int64_t b : wanted) result.hidden[b] = states.at(b);
  return result;
}

}  // namespace laco
