#include <torch/torch.h>

#include "harness/model/activation_checkpoint.h"
#include "parity/checkpoint.h"
#include "harness/model/mllm.h"
#include "methods/registry.h"
#include "tests/float32_close.h"
#include "tests/test_util.h"

namespace laco {
namespace {

LmOptions tiny_lm() { return LmOptions().vocab(50).width(16).layers(2).heads(4).kv_heads(2).mlp_dim(24); }

TEST(DecoderLM, IsCausal) {
  torch::manual_seed(30);
  DecoderLM lm(tiny_lm());
  auto x = torch::randn({2, 7, 16});
  auto y = lm->forward(x);
  auto x2 = x.clone();
  x2.slice(1, 4).add_(1.0);  // change tokens 4..6
  auto y2 = lm->forward(x2);
  EXPECT_TRUE(torch::allclose(y.slice(1, 0, 4), y2.slice(1, 0, 4), 1e-6, 1e-6)) << "earlier tokens saw later ones";
  EXPECT_FALSE(torch::allclose(y.slice(1, 4), y2.slice(1, 4)));
}

TEST(DecoderLM, RopeMakesAttentionDependOnRelativePosition) {
  DecoderLM lm(tiny_lm());
  auto [cos, sin] = lm->rope_tables(6, torch::TensorOptions());
  EXPECT_EQ(cos.sizes(), (std::vector<int64_t>{6, 4}));
  // Position 0 is the identity rotation.
  EXPECT_TRUE(torch::allclose(cos[0], torch::ones({4})));
  EXPECT_TRUE(torch::allclose(sin[0], torch::zeros({4})));
  // Rotated q.k depends only on the distance: (q at 1, k at 3) equals (q at 2, k at 4).
  auto q = torch::randn({4}), k = torch::randn({4});
  auto rot = [&](const torch::Tensor& v, int64_t p) {
    auto half = torch::cat({-v.slice(0, 2), v.slice(0, 0, 2)});
    return v * cos[p] + half * sin[p];
  };
  EXPECT_NEAR(rot(q, 1).dot(rot(k, 3)).item<double>(), rot(q, 2).dot(rot(k, 4)).item<double>(), 1e-5);
}

TEST(DecoderLM, GroupedQueryAttentionShapesAndTiedEmbeddings) {
  DecoderLM lm(tiny_lm());
  auto* layer = lm->layers[0]->as<DecoderLayer>();
  EXPECT_EQ(layer->q_proj->weight.sizes(), (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(layer->k_proj->weight.sizes(), (std::vector<int64_t>{8, 16})) << "2 KV heads of 4";
  EXPECT_EQ(layer->gate_proj->weight.sizes(), (std::vector<int64_t>{24, 16}));
  auto ids = torch::tensor({{1, 2, 3}});
  auto logits = lm->logits(lm->forward(lm->embed(ids)));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{1, 3, 50}));
  int64_t embeddings = 0;
  for (const auto& p : lm->named_parameters()) embeddings += p.value().size(0) == 50;
  EXPECT_EQ(embeddings, 1) << "the output head reuses the input embedding";
  test::expect_error([] { DecoderLM(LmOptions().width(16).heads(4).kv_heads(3)); }, {"kv_heads (3) must divide heads (4)"});
}

// The cached path evaluates the same computation in other shapes (a
// 1-query product against the cache instead of a row of the full product),
// so it agrees within float32 rounding, not bit for bit.
TEST(DecoderLM, KvCacheDecodingEqualsTheFullForwardAtEveryStep) {
  torch::manual_seed(32);
  const LmOptions o = tiny_lm();
  DecoderLM lm(o);
  torch::NoGradGuard no_grad;
  const auto ids = torch::randint(o.vocab(), {2, 12}, torch::kLong);
  const auto full = lm->logits(lm->forward(lm->embed(ids)));
  const int64_t depth = lm_chain_length(o, 12);
  // A prompt of 5, a chunk of 3 (queries that see the cache and each other causally), then one token at a
  // time; with a cache that grows by concatenation and with one allocated for all 12 positions at once.
  for (const int64_t capacity : {int64_t{0}, int64_t{12}}) {
    KvCache cache(capacity);
    auto step = [&](int64_t from, int64_t n) {
      const auto got = lm->logits(lm->forward(lm->embed(ids.narrow(1, from, n)), cache));
      EXPECT_EQ(cache.positions(), from + n);
      EXPECT_TRUE(test::float32_close(got, full.narrow(1, from, n).contiguous(), depth))
          << "positions " << from << ", capacity " << capacity;
    };
    step(0, 5);
    if (capacity) EXPECT_EQ(cache.layers[0].k.size(2), 12) << "allocated once, at the prefill";
    step(5, 3);
    for (int64_t i = 8; i < 12; ++i) step(i, 1);
    // Keys and values of every layer and position, before the grouped-query repeat.
    EXPECT_EQ(cache.bytes(), 2 * o.layers() * 2 * o.kv_heads() * o.head_dim() * 12 * 4);
    test::expect_error([&] { lm->forward(lm->embed(ids.narrow(0, 0, 1).narrow(1, 0, 1)), cache); },
                       {"the KV cache holds 2 sequences, the input 1"});
    if (capacity)
      test::expect_error([&] { lm->forward(lm->embed(ids.narrow(1, 0, 1)), cache); },
                         {"the KV cache holds 12 positions and has room for 12; 1 more do not fit"});
  }
}

// Greedy generation with the cache picks, at every step, the argmax of the
// full forward over the prompt and the ids generated so far (teacher
// forcing): the cache changes the cost, not the answer.
TEST(Mllm, GenerationWithTheCacheIsGreedyDecodingOfTheFullForward) {
  torch::manual_seed(33);
  MllmOptions o;
  o.encoder = EncoderOptions().image_size(28).patch_size(4).width(16).depth(2).heads(2).mlp_dim(32);  // 7 x 7
  o.lm = tiny_lm().kv_heads(1);  // 4 query heads share one KV head: the decode step's grouped form
  Mllm m(o);
  m->insert(make_compressor("laco", CompressorOptions(16).ratio(2).block(1)), 1);
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 2, 3, 28, 28});
  const auto text = torch::randint(50, {2, 3}, torch::kLong);
  std::vector<int64_t> called;
  const int64_t n = 6;
  const Generation g = m->generate(images, text, n, [&](int64_t i) { called.push_back(i); });
  EXPECT_EQ(called, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_EQ(g.ids.sizes(), (std::vector<int64_t>{2, n}));
  const int64_t prompt = m->visual_tokens(2) + 3;
  EXPECT_EQ(g.prompt, prompt);
  // Prompt + n - 1 positions: the last id is not fed back.
  EXPECT_EQ(g.cache_bytes, 2 * (2 * o.lm.layers() * o.lm.kv_heads() * o.lm.head_dim()) * (prompt + n - 1) * 4);
  const auto fed = torch::cat({text, g.ids.narrow(1, 0, n - 1)}, 1);
  const auto hidden = m->lm_hidden(m->project(m->encode(images)), fed);
  const auto logits = m->lm->logits(hidden.narrow(1, prompt - 1, n));
  EXPECT_TRUE(torch::equal(logits.argmax(-1), g.ids));
  test::expect_error([&] { m->generate(images, text, 0); }, {"generate needs at least 1 token, got 0"});
}

TEST(Mllm, CropsConcatenateAndTheLossTrainsEverything) {
  torch::manual_seed(31);
  MllmOptions o;
  o.encoder = EncoderOptions().image_size(28).patch_size(4).width(16).depth(2).heads(2).mlp_dim(32);  // 7 x 7
  o.lm = tiny_lm();
  Mllm m(o);
  m->encoder->set_compressor(make_compressor("laco", CompressorOptions(16).ratio(2).block(1)), 1);
  auto images = torch::randn({2, 3, 3, 28, 28});
  EXPECT_EQ(m->visual_tokens(3), 3 * 16);
  EXPECT_EQ(m->encode(images).sizes(), (std::vector<int64_t>{2, 48, 16}));
  auto ids = torch::randint(50, {2, 5}, torch::kLong);
  EXPECT_EQ(m->prefill(images, ids).sizes(), (std::vector<int64_t>{2, 50}));
  auto loss = m->loss(images, ids);
  EXPECT_TRUE(std::isfinite(loss.item<double>()));
  loss.backward();
  for (const auto& p : m->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// After the encoder a method whose reference is the projector replaces
// mlp2x_gelu and maps straight to the LM width (InternVL's mlp1 4C -> D).
TEST(Mllm, AMethodAfterTheEncoderCanBeTheProjector) {
  torch::manual_seed(32);
  MllmOptions o;
  o.encoder = EncoderOptions().image_size(28).patch_size(4).width(16).depth(2).heads(2).mlp_dim(32);  // 7 x 7
  o.lm = tiny_lm().width(24).heads(4).kv_heads(2);
  Mllm m(o);
  const int64_t projector_params = static_cast<int64_t>(m->projector->parameters().size());
  ASSERT_GT(projector_params, 0);
  m->insert(make_compressor("pixel_shuffle", CompressorOptions(16).out_dim(24).ratio(2).block(2)), 2, true);
  EXPECT_TRUE(m->method_is_projector());
  EXPECT_TRUE(m->projector->parameters().empty()) << "mlp2x_gelu is gone";
  auto images = torch::randn({2, 1, 3, 28, 28});
  const auto visual = m->encode(images);
  EXPECT_EQ(visual.sizes(), (std::vector<int64_t>{2, 16, 24})) << "the method's output is already LM-wide";
  EXPECT_TRUE(torch::equal(m->project(visual), visual));
  auto ids = torch::randint(50, {2, 5}, torch::kLong);
  auto loss = m->loss(images, ids);
  loss.backward();
  for (const auto& p : m->encoder->compressor()->named_parameters())
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();

  Mllm inside(o);
  test::expect_error(
      [&] { inside->insert(make_compressor("pixel_shuffle", CompressorOptions(16).out_dim(24).block(1)), 1, true); },
      {"only after the encoder (k = 2), not at k = 1"});
  test::expect_error(
      [&] { inside->insert(make_compressor("pixel_shuffle", CompressorOptions(16).block(2)), 2, true); },
      {"must map to the LM width 24, got 16"});
  test::expect_error(
      [&] { inside->insert(make_compressor("pixel_shuffle", CompressorOptions(16).out_dim(24).block(1)), 1); },
      {"maps to width 24", "the projector takes the encoder width 16"});
  test::expect_error(
      [&] { inside->insert(make_compressor("pixel_shuffle", CompressorOptions(16).out_dim(24).block(2)), 2); },
      {"the projector takes the encoder width 16"});
  // Without as_projector the old layout: method at width C, mlp2x_gelu after it.
  inside->insert(make_compressor("pixel_shuffle", CompressorOptions(16).block(2)), 2);
  EXPECT_FALSE(inside->method_is_projector());
  EXPECT_EQ(static_cast<int64_t>(inside->projector->parameters().size()), projector_params);
}


// --- Activation checkpointing (harness/model/activation_checkpoint.h) ---------
//
// Checkpointed or not, the same kernels run on the same shapes in the same
// order (the backward's rerun repeats the forward's ops, each layer's weights
// get one layer's backward either way), so the loss and every gradient agree
// bit for bit: torch::equal, no tolerance. With and without FastV pruning after
// layer 1 (its scores come from the checkpoint's first run).

// A copy of `lm`'s weights in a second LM of the same options.
DecoderLM copy_of(const DecoderLM& lm) {
  DecoderLM copy(lm->options());
  torch::NoGradGuard no_grad;
  for (const auto& p : copy->named_parameters()) p.value().copy_(lm->named_parameters()[p.key()]);
  return copy;
}

TEST(DecoderLM, ActivationCheckpointingGivesTheSameLossAndGradients) {
  torch::manual_seed(34);
  const LmOptions o = tiny_lm().layers(3);
  for (const LmPrune& prune : {LmPrune{}, LmPrune{1, 1, 6, 3}}) {
    DecoderLM lm(o);
    DecoderLM ckpt = copy_of(lm);
    EXPECT_FALSE(ckpt->activation_checkpointing());
    ckpt->set_activation_checkpointing(true);
    EXPECT_TRUE(ckpt->activation_checkpointing());
    const auto ids = torch::randint(o.vocab(), {2, 10}, torch::kLong);
    const int64_t t = 10 - prune.dropped();
    auto loss_of = [&](DecoderLM& m, int64_t expect_nodes) {
      const auto hidden = m->forward(m->embed(ids), prune);
      EXPECT_EQ(hidden.size(1), t);
      EXPECT_EQ(checkpoint_nodes(hidden), expect_nodes);
      const auto logits = m->logits(hidden).narrow(1, 0, t - 1).reshape({-1, o.vocab()});
      return torch::cross_entropy_loss(logits, ids.narrow(1, 10 - t + 1, t - 1).reshape({-1}));
    };
    const auto loss_plain = loss_of(lm, 0), loss = loss_of(ckpt, o.layers());
    EXPECT_TRUE(torch::equal(loss, loss_plain)) << prune.active();
    loss_plain.backward();
    loss.backward();
    for (const auto& p : lm->named_parameters()) {
      const auto& got = ckpt->named_parameters()[p.key()].grad();
      ASSERT_TRUE(got.defined()) << p.key();
      EXPECT_TRUE(torch::equal(got, p.value().grad())) << p.key() << ", pruning " << prune.active();
    }
  }
}

// Stage 1: the LM frozen, the projector below it trained; the LM's input (here
// a leaf) gets the gradient it gets without checkpointing, the LM's weights none.
TEST(DecoderLM, CheckpointedFrozenLayersStillPassTheGradientDown) {
  torch::manual_seed(35);
  const LmOptions o = tiny_lm().layers(3);
  DecoderLM lm(o);
  for (const auto& p : lm->parameters()) p.requires_grad_(false);
  const auto x0 = torch::randn({2, 10, o.width()}), seed = torch::randn({2, 7, o.width()});
  for (const LmPrune& prune : {LmPrune{}, LmPrune{2, 0, 5, 2}}) {
    torch::Tensor grads[2];
    for (const bool on : {false, true}) {
      lm->set_activation_checkpointing(on);
      const auto x = x0.clone().requires_grad_(true);
      const auto y = lm->forward(x, prune);
      EXPECT_EQ(checkpoint_nodes(y), on ? o.layers() : 0);
      (y.narrow(1, 0, 7) * seed).sum().backward();
      grads[on] = x.grad();
    }
    ASSERT_TRUE(grads[1].defined());
    EXPECT_TRUE(torch::equal(grads[1], grads[0])) << prune.active();
    for (const auto& p : lm->parameters()) EXPECT_FALSE(p.grad().defined());
  }
}

// Grad mode off: the plain forward, bit for bit, nothing recomputed; the
// cached forward (inference) is never checkpointed.
TEST(DecoderLM, ActivationCheckpointingChangesNothingWithoutGradientsOrWithACache) {
  torch::manual_seed(36);
  const LmOptions o = tiny_lm().layers(3);
  DecoderLM lm(o);
  const auto x = torch::randn({2, 10, o.width()});
  for (const LmPrune& prune : {LmPrune{}, LmPrune{1, 1, 6, 3}}) {
    torch::NoGradGuard no_grad;
    lm->set_activation_checkpointing(false);
    const auto plain = lm->forward(x, prune);
    lm->set_activation_checkpointing(true);
    EXPECT_TRUE(torch::equal(lm->forward(x.clone().requires_grad_(true), prune), plain)) << prune.active();
  }
  lm->set_activation_checkpointing(true);
  KvCache cache;
  const auto y = lm->forward(x.clone().requires_grad_(true), cache);
  ASSERT_TRUE(y.requires_grad());
  EXPECT_EQ(checkpoint_nodes(y), 0);
  EXPECT_EQ(checkpoint_nodes(lm->forward(x.clone().requires_grad_(true))), o.layers()) << "the call without a cache";
}

}  // namespace
}  // namespace laco
