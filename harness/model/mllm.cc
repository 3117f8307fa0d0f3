#include "harness/model/mllm.h"

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/init.h"

namespace laco {

MllmImpl::MllmImpl(MllmOptions options) : options_(std::move(options)) {
  encoder = register_module("encoder", VisionEncoder(options_.encoder));
  const int64_t c = options_.encoder.width(), d = options_.lm.width();
  projector = register_module(
      "projector", torch::nn::Sequential(torch::nn::Linear(c, d), torch::nn::GELU(), torch::nn::Linear(d, d)));
  init_trunc_normal_weights(*projector);
  lm = register_module("lm", DecoderLM(options_.lm));
  if (options_.image_newline) image_newline = register_parameter("image_newline", torch::zeros({d}));
}

torch::Tensor MllmImpl::encode(const torch::Tensor& images) {
  if (images.dim() != 5) fail("mllm: images must be [batch, crops, channels, size, size], got {} dims", images.dim());
  const int64_t b = images.size(0), crops = images.size(1);
  auto out = encoder->forward(images.flatten(0, 1));
  return out.tokens.reshape({b, crops * out.tokens.size(1), out.tokens.size(2)});
}

torch::Tensor MllmImpl::project(const torch::Tensor& visual) { return projector->forward(visual); }

torch::Tensor MllmImpl::lm_hidden(const torch::Tensor& visual_embeddings, const torch::Tensor& text_ids) {
  return lm->forward(torch::cat({visual_embeddings, lm->embed(text_ids)}, 1), lm_prune(visual_embeddings.size(1)));
}

LmPrune MllmImpl::lm_prune(int64_t visual) const {
  const auto& c = encoder->compressor();
  if (!c || c->site() != MethodSite::kInLm) return {};
  const Grid grid = options_.encoder.grid();
  if (visual % grid.tokens() != 0)
    fail("mllm: {} visual tokens are not whole crops of {} tokens each", visual, grid.tokens());
  return c->lm_prune(grid, visual / grid.tokens());
}

torch::Tensor MllmImpl::prefill(const torch::Tensor& images, const torch::Tensor& text_ids) {
  auto hidden = lm_hidden(project(encode(images)), text_ids);
  return lm->logits(hidden.select(1, hidden.size(1) - 1));
}

Generation MllmImpl::generate(const torch::Tensor& images, const torch::Tensor& text_ids, int64_t n,
                              const std::function<void(int64_t)>& on_token) {
  const auto visual = project(encode(images));
  return generate_from(torch::cat({visual, lm->embed(text_ids)}, 1), lm_prune(visual.size(1)), n, -1, on_token);
}

Generation MllmImpl::generate_from(const torch::Tensor& prompt, const LmPrune& prune, int64_t n, int64_t stop,
                                   const std::function<void(int64_t)>& on_token) {
  if (n < 1) fail("mllm: generate needs at least 1 token, got {}", n);
  Generation g;
  g.prompt = prompt.size(1);
  KvCache cache(g.prompt + n - 1);
  auto hidden = lm->forward(prompt, cache, prune);
  auto next = lm->logits(hidden.select(1, hidden.size(1) - 1)).argmax(-1);
  std::vector<torch::Tensor> ids = {next};
  if (on_token) on_token(0);
  // Requests that have produced `stop` (it is kept; what follows it is not read).
  auto done = stop >= 0 ? next.eq(stop) : torch::zeros_like(next, torch::kBool);
  for (int64_t i = 1; i < n && (stop < 0 || !done.all().item<bool>()); ++i) {
    hidden = lm->forward(lm->embed(next.unsqueeze(1)), cache);
    next = lm->logits(hidden.select(1, 0)).argmax(-1);
    ids.push_back(next);
    if (stop >= 0) done = done.logical_or(next.eq(stop));
    if (on_token) on_token(i);
  }
  g.ids = torch::stack(ids, 1);
  g.cache_bytes = cache.bytes();
  return g;
}

void check_anyres_method(const Compressor& c) {
  if (c && c->site() == MethodSite::kInBlocks)
    fail("mllm: method '{}' keeps or merges tokens inside the encoder and leaves no grid, but LLaVA-OneVision's anyres "
         "packing cuts and joins the tiles' token grids (allowed here: the grid methods and the methods inside the LM)",
         c->method());
}

Grid MllmImpl::anyres_tile_grid() const {
  check_anyres_method(encoder->compressor());
  return encoder->output_grid();
}

torch::Tensor MllmImpl::image_features(const torch::Tensor& crops, const AnyresLayout& layout) {
  const Grid tile = anyres_tile_grid();
  if (crops.dim() != 4) fail("mllm: an image's crops must be [crops, channels, size, size], got {} dims", crops.dim());
  auto features = project(encoder->forward(crops).tokens);
  return pack_anyres(features, tile, layout, image_newline);
}

LmPrune MllmImpl::lm_prune_span(int64_t start, int64_t count) const {
  const auto& c = encoder->compressor();
  if (!c || c->site() != MethodSite::kInLm) return {};
  const LmPrune one = c->lm_prune(options_.encoder.grid(), 1);
  const int64_t keep = std::max<int64_t>(1, (count * one.keep + one.count / 2) / one.count);
  return {one.after_layer, start, count, std::min(keep, count)};
}

torch::Tensor MllmImpl::loss(const torch::Tensor& images, const torch::Tensor& text_ids) {
  const int64_t t = text_ids.size(1);
  if (t < 2) fail("mllm: the loss needs at least 2 text tokens, got {}", t);
  auto hidden = lm_hidden(project(encode(images)), text_ids);
  // Positions of text tokens 0..t-2 predict text tokens 1..t-1.
  auto h = hidden.narrow(1, hidden.size(1) - t, t - 1);
  auto logits = lm->logits(h);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, logits.size(-1)}),
                                              text_ids.narrow(1, 1, t - 1).reshape({-1}));
}

void MllmImpl::insert(Compressor compressor, int64_t k, bool as_projector) {
  if (!compressor) fail("mllm: insert needs a compressor");
  if (!as_projector && method_is_projector_)
    fail("mllm: the projector was already replaced by a method; build a new model to insert '{}' before it",
         compressor->method());
  const int64_t depth = options_.encoder.depth(), d = options_.lm.width();
  if (as_projector) {
    if (k != depth)
      fail("mllm: method '{}' can replace the projector only after the encoder (k = {}), not at k = {}",
           compressor->method(), depth, k);
    if (compressor->options().resolved_out_dim() != d)
      fail("mllm: method '{}' replaces the projector, so it must map to the LM width {}, got {}", compressor->method(), d,
           compressor->options().resolved_out_dim());
  } else if (compressor->options().resolved_out_dim() != options_.encoder.width()) {
    fail("mllm: method '{}' maps to width {} but the projector takes the encoder width {} (or insert it as the projector)",
         compressor->method(), compressor->options().resolved_out_dim(), options_.encoder.width());
  }
  encoder->set_compressor(std::move(compressor), k);
  if (as_projector && !method_is_projector_)
    projector = replace_module("projector", torch::nn::Sequential(torch::nn::Identity()));
  method_is_projector_ = as_projector;
}

int64_t MllmImpl::visual_input_tokens(int64_t crops) const { return crops * encoder->output_grid().tokens(); }

int64_t MllmImpl::visual_tokens(int64_t crops) const {
  const LmPrune prune = lm_prune(visual_input_tokens(crops));
  return prune.active() ? prune.keep : visual_input_tokens(crops);
}

}  // namespace laco
