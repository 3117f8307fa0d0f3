#include "methods/tokenpacker.h"

#include <cmath>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/attention.h"
#include "harness/model/init.h"

namespace laco {
namespace {

int64_t default_heads(int64_t dim) {
  for (int64_t h = std::max<int64_t>(1, dim / 128); h > 1; --h)
    if (dim % h == 0) return h;
  return 1;
}

torch::nn::Sequential make_kv_proj(int64_t kv_dim, int64_t dim) {
  return torch::nn::Sequential(torch::nn::Linear(kv_dim, dim), torch::nn::GELU(), torch::nn::Linear(dim, dim));
}

torch::nn::LayerNorm make_ln(int64_t dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)); }

}  // namespace

std::vector<int64_t> tokenpacker_level_blocks(int64_t k) {
  if (k < 1) fail("tokenpacker: block k must be >= 1, got {}", k);
  std::vector<int64_t> blocks;
  for (double f : {1.0 / 2.0, 2.0 / 3.0, 11.0 / 12.0, 1.0}) {
    const int64_t b = std::max<int64_t>(1, std::llround(f * static_cast<double>(k)));
    if (std::find(blocks.begin(), blocks.end(), b) == blocks.end()) blocks.push_back(b);
  }
  return blocks;
}

PackedAttentionImpl::PackedAttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  if (heads < 1 || dim % heads != 0) fail("tokenpacker: {} heads do not divide width {}", heads, dim);
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * dim, dim}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * dim}));
  out_proj = register_module("out_proj", torch::nn::Linear(dim, dim));
  torch::nn::init::xavier_uniform_(in_proj_weight);
}

torch::Tensor PackedAttentionImpl::forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                           const torch::Tensor& key_mask) {
  const auto w = in_proj_weight.chunk(3, 0);
  const auto b = in_proj_bias.chunk(3, 0);
  const int64_t m = q.size(0), e = q.size(2), d = e / heads_;
  auto split = [&](const torch::Tensor& t) { return t.view({m, t.size(1), heads_, d}).transpose(1, 2); };
  auto qh = split(torch::nn::functional::linear(q, w[0], b[0]));
  auto kh = split(torch::nn::functional::linear(k, w[1], b[1]));
  auto vh = split(torch::nn::functional::linear(v, w[2], b[2]));
  // [M, S] -> [M, 1 (heads), 1 (queries), S]
  auto mask = key_mask.defined() ? key_mask.reshape({m, 1, 1, k.size(1)}) : key_mask;
  auto out = attention(qh, kh, vh, /*causal=*/false, mask).transpose(1, 2).reshape({m, q.size(1), e});
  return out_proj->forward(out);
}

TokenPackerImpl::TokenPackerImpl(CompressorOptions options, TokenPackerOptions tp)
    : CompressorImpl("tokenpacker", std::move(options)) {
  const int64_t dim = options_.dim(), out = options_.resolved_out_dim();
  const int64_t levels = options_.block() > 0 ? static_cast<int64_t>(feature_blocks().size()) : 1;
  heads_ = tp.heads() > 0 ? tp.heads() : default_heads(dim);
  kv_dim_ = tp.kv_dim() > 0 ? tp.kv_dim() : dim * levels;
  q_proj_1 = register_module("q_proj_1", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(false)));
  k_proj_1 = register_module("k_proj_1", make_kv_proj(kv_dim_, dim));
  v_proj_1 = register_module("v_proj_1", make_kv_proj(kv_dim_, dim));
  ln_q_1 = register_module("ln_q_1", make_ln(dim));
  ln_k_1 = register_module("ln_k_1", make_ln(dim));
  ln_v_1 = register_module("ln_v_1", make_ln(dim));
  clip_attn = register_module("clip_attn", PackedAttention(dim, heads_));
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(dim, out), torch::nn::GELU(),
                                                     torch::nn::Linear(out, out)));
  // The reference re-initialises every Linear (out_proj included) after
  // nn.MultiheadAttention has put xavier_uniform on the packed in-projection.
  init_weights(*this, options_.init(), kTokenPackerInit);
}

std::vector<int64_t> TokenPackerImpl::feature_blocks() const {
  return options_.block() > 0 ? tokenpacker_level_blocks(options_.block()) : std::vector<int64_t>{};
}

double TokenPackerImpl::flops(Grid in) const {
  const double n = static_cast<double>(work_grid(in).tokens()), q = static_cast<double>(output_grid(in).tokens());
  const double c = static_cast<double>(options_.dim()), co = static_cast<double>(options_.resolved_out_dim());
  const double kv = static_cast<double>(kv_dim_);
  const double query = 2.0 * q * c * c;                      // q_proj_1
  const double keys_values = 2.0 * 2.0 * n * (kv * c + c * c);  // k_proj_1, v_proj_1
  const double in_proj = 2.0 * q * c * c + 2.0 * 2.0 * n * c * c;
  const double scores_and_mix = 2.0 * 2.0 * n * c;            // each query over its r^2 keys
  const double out_proj = 2.0 * q * c * c;
  const double mlp = 2.0 * q * (c * co + co * co);
  return query + keys_values + in_proj + scores_and_mix + out_proj + mlp;
}

torch::Tensor TokenPackerImpl::compress(const torch::Tensor& x, const WorkGrid& grid,
                                        const std::vector<torch::Tensor>& features) {
  namespace F = torch::nn::functional;
  const int64_t r = ratio(), b = x.size(0), dim = x.size(2);
  const Grid work = grid.work, out{work.h / r, work.w / r};
  auto kv = features.empty() ? x : torch::cat(features, -1);
  if (kv.size(2) != kv_dim_)
    fail("method 'tokenpacker': key/value features have {} channels, the method was built for kv_dim {}", kv.size(2),
         kv_dim_);

  // Queries: the bilinear downsample (each sample point at its window's
  // centre). Under `pad` it reads an edge-replicated copy of the input rather
  // than the zero-padded grid, so a border query samples real tokens only,
  // as interpolate's own clamping does at an image edge: for r = 2 that is
  // the mean of the window's valid tokens, and every query not on the border
  // is unchanged (a sample point reads only its own window). Resizing the
  // unpadded grid to H' x W' instead would move sample points off their
  // windows (25 x 25 at r = 4: the sixth query would read row 19, in the
  // fifth window), and renormalising the bilinear weights over valid pixels
  // fails where a window's centre pixels are all padding (that same grid).
  auto img = tokens_to_image(x, work);
  if (grid.padded()) {
    img = torch::replication_pad2d(img.slice(2, 0, grid.valid.h).slice(3, 0, grid.valid.w),
                                   {0, work.w - grid.valid.w, 0, work.h - grid.valid.h});
  }
  auto q = F::interpolate(img, F::InterpolateFuncOptions()
                                   .size(std::vector<int64_t>{out.h, out.w})
                                   .mode(torch::kBilinear)
                                   .align_corners(false));
  auto query = ln_q_1->forward(q_proj_1->forward(image_to_tokens(q)));
  auto key = ln_k_1->forward(k_proj_1->forward(kv));
  auto value = ln_v_1->forward(v_proj_1->forward(kv));

  // Window (i, j) holds the r x r keys at (r*i + di, r*j + dj): exactly the
  // channel groups of space-to-channel, one row of the attention batch each.
  const int64_t windows = b * out.tokens();
  auto key_w = space_to_channel(key, work, r).view({windows, r * r, dim});
  auto value_w = space_to_channel(value, work, r).view({windows, r * r, dim});
  // A padded key would still take a share of the softmax (a zero key scores
  // 0; trained biases move it further), so padded keys and values are masked;
  // every window keeps at least one real key (ceil).
  torch::Tensor key_mask;
  if (grid.padded()) {
    auto valid = valid_token_mask(grid, x.options()).view({1, work.tokens(), 1});
    key_mask = space_to_channel(valid, work, r).expand({b, out.tokens(), r * r}).reshape({windows, r * r});
  }
  auto packed = clip_attn->forward(query.reshape({windows, 1, dim}), key_w, value_w, key_mask);
  return mlp->forward(packed.view({b, out.tokens(), dim}));
}

MethodInfo tokenpacker_method() {
  MethodInfo info;
  info.name = "tokenpacker";
  info.summary = "TokenPacker: downsampled queries attend to their r x r window of multi-level keys/values";
  info.reference_init = kTokenPackerInit;
  info.own_projector = true;
  info.options = {{"heads", "int, default 0 = largest divisor of dim not above dim/128"}};
  info.make = [keys = info.option_keys()](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader reader("tokenpacker", mo, keys);
    return std::make_shared<TokenPackerImpl>(o, TokenPackerOptions().heads(reader.get_int("heads", 0)));
  };
  info.make_reference = [](const ReferenceConfig& config) -> Compressor {
    return std::make_shared<TokenPackerImpl>(CompressorOptions(config.get_int("embed_dim"))
                                                 .out_dim(config.get_int("hidden_size"))
                                                 .ratio(config.get_int("scale_factor")),
                                             TokenPackerOptions()
                                                 .heads(config.get_int("num_heads"))
                                                 .kv_dim(config.get_int("kv_dim")));
  };
  return info;
}

}  // namespace laco
