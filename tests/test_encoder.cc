#include <torch/torch.h>

#include "harness/model/activation_checkpoint.h"
#include "harness/model/attention.h"
#include "harness/model/encoder.h"
#include "harness/model/gelu_tanh.h"
#include "harness/model/placement.h"
#include "methods/registry.h"
#include "tests/test_util.h"

namespace laco {
namespace {

// A 27 x 27 grid like SigLIP at 384 px, at toy width.
EncoderOptions tiny_encoder() {
  return EncoderOptions().image_size(54).patch_size(2).width(16).depth(4).heads(2).mlp_dim(32);
}

Compressor make_for(const std::string& method, int64_t r, int64_t k, GridPolicy policy = GridPolicy::kPad) {
  return make_compressor(method, CompressorOptions(16).ratio(r).block(k).grid_policy(policy));
}

TEST(Encoder, PaperShapeGivesA27By27Grid) {
  EXPECT_EQ(EncoderOptions().grid(), (Grid{27, 27}));
  EXPECT_EQ(tiny_encoder().grid(), (Grid{27, 27}));
}

TEST(Encoder, TokenCountAfterBlockKIsCeilHOverRTimesCeilWOverR) {
  torch::manual_seed(10);
  auto images = torch::randn({2, 3, 54, 54});
  for (const auto& method : method_names(MethodSite::kAfterBlock))
    for (int64_t r : {2, 3, 4}) {
      VisionEncoder enc(tiny_encoder());
      enc->set_compressor(make_for(method, r, 2), 2);
      torch::NoGradGuard no_grad;
      auto out = enc->forward(images, {1, 2, 3, 4});
      const int64_t side = method == "none" ? 27 : (27 + r - 1) / r;
      EXPECT_EQ(out.grid, (Grid{side, side})) << method << " r=" << r;
      EXPECT_EQ(enc->output_grid(), out.grid);
      EXPECT_EQ(out.tokens.sizes(), (std::vector<int64_t>{2, side * side, 16}));
      EXPECT_EQ(out.hidden.at(1).size(1), 729);
      EXPECT_EQ(out.hidden.at(2).size(1), 729) << "block k's own state is taken before compression";
      EXPECT_EQ(out.hidden.at(3).size(1), side * side) << method;
      EXPECT_EQ(out.hidden.at(4).size(1), side * side) << method;
    }
}

TEST(Encoder, CompressingAfterTheLastBlockEqualsCompressingTheOutput) {
  torch::manual_seed(11);
  auto images = torch::randn({2, 3, 54, 54});
  const int64_t depth = tiny_encoder().depth();
  for (const auto& method : method_names(MethodSite::kAfterBlock))
    for (int64_t r : {2, 3, 4}) {
      VisionEncoder enc(tiny_encoder());
      enc->eval();
      auto comp = make_for(method, r, depth);
      enc->set_compressor(comp, depth);
      torch::NoGradGuard no_grad;
      auto inside = enc->forward(images);

      enc->clear_compressor();
      auto plain = enc->forward(images, comp->feature_blocks());
      std::vector<torch::Tensor> features;
      for (int64_t b : comp->feature_blocks()) features.push_back(plain.hidden.at(b));
      auto outside = comp->forward(plain.tokens, plain.grid, features);
      EXPECT_EQ(inside.grid, outside.grid);
      EXPECT_TRUE(torch::allclose(inside.tokens, outside.tokens, 1e-6, 1e-6)) << method << " r=" << r;
    }
}

// Two encoders with the same weights, one fused for inference and one not.
std::pair<VisionEncoder, VisionEncoder> fused_and_composed(const EncoderOptions& options) {
  VisionEncoder fused(EncoderOptions(options).fused_inference(true));
  VisionEncoder composed(EncoderOptions(options).fused_inference(false));
  torch::NoGradGuard no_grad;
  auto from = fused->parameters(), to = composed->parameters();
  for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  return {fused, composed};
}

TEST(Encoder, FusedInferenceEqualsTheCompositionWithAndWithoutACompressor) {
  torch::manual_seed(16);
  auto images = torch::randn({2, 3, 54, 54});
  auto [fused, composed] = fused_and_composed(tiny_encoder());
  std::vector<std::string> placements = {"none"};
  for (const auto& m : method_names(MethodSite::kAfterBlock)) placements.push_back(m);
  for (const auto& method : placements) {
    if (method != "none") {
      auto c = make_for(method, 2, 2);
      fused->set_compressor(c, 2);
      composed->set_compressor(c, 2);  // one compressor: the same weights after block k
    }
    torch::NoGradGuard no_grad;
    auto a = fused->forward(images, {1, 4}), b = composed->forward(images, {1, 4});
    EXPECT_EQ(a.grid, b.grid) << method;
    // The two paths are what they say (not that they round differently: on
    // some CPU they may round alike, so that would be no check of the path).
    for (const auto& block : *fused->blocks)
      EXPECT_TRUE(block->as<EncoderBlock>()->takes_fused(a.tokens)) << method;
    for (const auto& block : *composed->blocks)
      EXPECT_FALSE(block->as<EncoderBlock>()->takes_fused(a.tokens)) << method;
    EXPECT_TRUE(torch::allclose(a.tokens, b.tokens, 1e-5, 1e-5))
        << method << ": max |diff| " << (a.tokens - b.tokens).abs().max().item<double>();
    EXPECT_TRUE(torch::allclose(a.hidden.at(1), b.hidden.at(1), 1e-5, 1e-5)) << method;
  }
}

TEST(Encoder, FusedPathOnlyWhereNoGradientIsWanted) {
  torch::manual_seed(17);
  EncoderBlock block(64, 4, 96, 1e-6);
  auto x = torch::randn({2, 13 * 13, 64});  // an odd 13 x 13 grid as cpu-small's, with 4 heads
  EXPECT_FALSE(block->takes_fused(x)) << "grad mode on, trainable weights";
  for (auto& p : block->parameters()) p.requires_grad_(false);
  EXPECT_TRUE(block->takes_fused(x)) << "a frozen block with an input that needs no gradient";
  EXPECT_FALSE(block->takes_fused(x.clone().requires_grad_(true))) << "a frozen block after a trainable module";
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(block->takes_fused(x.clone().requires_grad_(true)));
    auto fused = block->forward_fused(x), composed = block->forward_composed(x);
    EXPECT_TRUE(torch::allclose(fused, composed, 1e-5, 1e-5)) << (fused - composed).abs().max().item<double>();
  }
  EncoderBlock reference(64, 4, 96, 1e-6, /*fused_inference=*/false);
  torch::NoGradGuard no_grad;
  EXPECT_FALSE(reference->takes_fused(x));
  EXPECT_EQ(encoder_inference_kernels(EncoderOptions().fused_inference(false)), std::string("composed"));
}

TEST(GeluTanh, MatchesAFloat64EvaluationAndLibTorch) {
  torch::manual_seed(18);
  // 1031 values (not a multiple of any vector width) across GELU's range, and its extremes.
  auto x = torch::cat({torch::randn({1000}) * 4, torch::tensor({0.0f, -0.0f, 1e-30f, -1e-30f, 3.0f, -3.0f, -5.5f, -9.0f,
                                                                 -12.0f, -50.0f, -1e4f, 8.0f, 12.0f, 50.0f, 1e4f, 1e-3f,
                                                                 -1e-3f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f, -2.0f, 4.0f,
                                                                 -4.0f, 6.0f, -6.0f, 7.0f, -7.0f, 20.0f, -20.0f})});
  auto y = x.clone();
  gelu_tanh_(y);
  auto d = x.to(torch::kFloat64);
  auto truth = 0.5 * d * (1 + (0.7978845608028654 * (d + 0.044715 * d.pow(3))).tanh());
  auto err = (y.to(torch::kFloat64) - truth).abs();
  EXPECT_LT(err.max().item<double>(), 1e-6 * 1e4) << "absolute, up to |x| = 1e4";
  auto big = truth.abs() > 1e-4;
  EXPECT_LT((err / truth.abs()).masked_select(big).max().item<double>(), 4e-6);
  EXPECT_LT(err.masked_select(truth.abs() <= 1e-4).max().item<double>(), 1e-9);
  EXPECT_TRUE(torch::allclose(y, torch::gelu(x, "tanh"), 1e-5, 1e-6));
  // Not contiguous: LibTorch's own kernel, exactly.
  auto m = torch::randn({8, 6}).t();
  auto want = torch::gelu(m, "tanh");
  gelu_tanh_(m);
  EXPECT_TRUE(torch::equal(m, want));
}

TEST(Encoder, TokenPackerReceivesItsLevels) {
  torch::manual_seed(12);
  VisionEncoder enc(tiny_encoder());
  auto tp = make_for("tokenpacker", 2, 4);
  EXPECT_EQ(tp->feature_blocks(), (std::vector<int64_t>{2, 3, 4}));
  enc->set_compressor(tp, 4);
  torch::NoGradGuard no_grad;
  EXPECT_EQ(enc->forward(torch::randn({1, 3, 54, 54})).tokens.size(1), 196);
}

TEST(Encoder, GradientsReachEveryParameter) {
  torch::manual_seed(13);
  for (const auto& method : method_names(MethodSite::kAfterBlock)) {
    VisionEncoder enc(tiny_encoder());
    enc->set_compressor(make_for(method, 2, 2), 2);
    auto out = enc->forward(torch::randn({2, 3, 54, 54}));
    (out.tokens * torch::randn_like(out.tokens)).sum().backward();
    for (const auto& p : enc->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << method << ": " << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << method << ": " << p.key();
    }
  }
}

TEST(Encoder, SetCompressorReplacesTheEarlierOne) {
  VisionEncoder enc(tiny_encoder());
  enc->set_compressor(make_for("avgpool", 2, 1), 1);
  enc->set_compressor(make_for("laco", 3, 3), 3);
  EXPECT_EQ(enc->compressor()->method(), "laco");
  EXPECT_EQ(enc->compressor_block(), 3);
  EXPECT_EQ(enc->output_grid(), (Grid{9, 9}));
  int64_t compressors = 0;
  for (const auto& child : enc->named_children()) compressors += child.key() == "compressor";
  EXPECT_EQ(compressors, 1);
  enc->clear_compressor();
  EXPECT_EQ(enc->output_grid(), (Grid{27, 27}));
}

TEST(Encoder, BadPlacementsAreClearErrors) {
  VisionEncoder enc(tiny_encoder());
  for (int64_t k : {0, -1, 5})
    test::expect_error([&] { enc->set_compressor(make_for("laco", 2, 1), k); },
                       {"k = " + std::to_string(k), "outside 1..4"});
  test::expect_error([&] { enc->set_compressor(make_for("laco", 2, 2, GridPolicy::kError), 2); },
                     {"27x27", "not divisible by ratio 2"});
  test::expect_error([&] { enc->set_compressor(make_compressor("laco", CompressorOptions(8)), 2); },
                     {"width 8", "must be 16"});
  test::expect_error([&] { enc->set_compressor(make_for("tokenpacker", 2, 4), 2); },
                     {"block 3", "does not precede k = 2"});
  test::expect_error([&] { enc->forward(torch::randn({1, 3, 32, 32})); }, {"images must be [B, 3, 54, 54]"});
  test::expect_error([] { VisionEncoder(EncoderOptions().width(10).heads(3)); }, {"heads (3) must divide width (10)"});
}

TEST(Placement, FractionsResolveToRoundedBlocks) {
  EXPECT_EQ(Placement::parse("1/12").resolve(26), 2);
  EXPECT_EQ(Placement::parse("1/6").resolve(26), 4);
  EXPECT_EQ(Placement::parse("1/4").resolve(26), 7);
  EXPECT_EQ(Placement::parse("0.25").resolve(26), 7);
  EXPECT_EQ(Placement::parse("1/2").resolve(26), 13);
  EXPECT_EQ(Placement::parse("1").resolve(26), 26);
  EXPECT_EQ(Placement::parse("1/12").resolve(4), 1);
  EXPECT_EQ(Placement::parse("block:7").resolve(26), 7);
  EXPECT_EQ(Placement::parse("1/4").label(), "1/4");
}

TEST(Placement, BadPlacementsNameTheFieldAndTheAllowedValues) {
  for (const char* bad : {"0", "-1/4", "1.5", "abc", "1/0", ""})
    test::expect_error([&] { Placement::parse(bad, "--layer"); }, {"--layer", "(0, 1]"});
  test::expect_error([] { Placement::parse("7", "--layer"); }, {"--layer", "for block index 7 write block:7"});
  test::expect_error([] { Placement::parse("block:0", "--layer"); }, {"not a valid block index"});
  test::expect_error([] { Placement::parse("block:30", "--layer").resolve(26); },
                     {"--layer", "block 30 is beyond the encoder's depth", "block:1 .. block:26"});
}

TEST(Attention, MatchesTheExplicitSoftmaxForm) {
  torch::manual_seed(14);
  auto q = torch::randn({2, 3, 5, 4}, torch::kFloat64);
  auto k = torch::randn({2, 3, 5, 4}, torch::kFloat64);
  auto v = torch::randn({2, 3, 5, 4}, torch::kFloat64);
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / 2.0;
  EXPECT_TRUE(torch::allclose(attention(q, k, v), torch::matmul(scores.softmax(-1), v), 1e-10, 1e-10));
  // Causal: query i sees keys 0..i only; the first query returns the first value.
  auto causal = attention(q, k, v, /*causal=*/true);
  EXPECT_TRUE(torch::allclose(causal.select(2, 0), v.select(2, 0), 1e-10, 1e-10));
  auto mask = torch::ones({5, 5}, torch::kBool).triu(1);
  auto expect = torch::matmul(scores.masked_fill(mask, -INFINITY).softmax(-1), v);
  EXPECT_TRUE(torch::allclose(causal, expect, 1e-10, 1e-10));
}

TEST(Attention, MaskedKeysGetNoWeight) {
  torch::manual_seed(15);
  auto q = torch::randn({2, 3, 5, 4}, torch::kFloat64);
  auto k = torch::randn({2, 3, 6, 4}, torch::kFloat64);
  auto v = torch::randn({2, 3, 6, 4}, torch::kFloat64);
  // Keys 0, 2, 3 may be attended to; broadcast over batch, heads and queries.
  auto keep = torch::tensor({0, 2, 3}, torch::kLong);
  auto mask = torch::zeros({6}, torch::kBool).index_fill(0, keep, true);
  auto want = attention(q, k.index_select(2, keep), v.index_select(2, keep));
  EXPECT_TRUE(torch::allclose(attention(q, k, v, false, mask), want, 1e-10, 1e-10));
  // With huge values at the masked keys the result does not move.
  auto k2 = k.clone(), v2 = v.clone();
  k2.index_fill_(2, torch::tensor({1, 4, 5}, torch::kLong), 1e6);
  v2.index_fill_(2, torch::tensor({1, 4, 5}, torch::kLong), 1e6);
  EXPECT_TRUE(torch::allclose(attention(q, k2, v2, false, mask), want, 1e-10, 1e-10));
  // Mask and causality together: query i sees the allowed keys among 0..i.
  auto both = attention(q, k, v, /*causal=*/true, mask);
  EXPECT_TRUE(torch::allclose(both.select(2, 0), v.select(2, 0), 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(both.select(2, 1), v.select(2, 0), 1e-10, 1e-10));
  auto q3 = q.slice(2, 3, 4);
  EXPECT_TRUE(torch::allclose(both.slice(2, 3, 4), attention(q3, k.index_select(2, keep), v.index_select(2, keep)),
                              1e-10, 1e-10));
  test::expect_error([&] { attention(q, k, v, false, mask.to(torch::kFloat)); }, {"mask must be bool"});
}


// --- Activation checkpointing (harness/model/activation_checkpoint.h) ---------
//
// Checkpointed or not, the same kernels run on the same shapes in the same
// order (the backward's rerun repeats the forward's ops; each parameter is
// used in one block, so its gradient is one block's backward either way), so
// values and gradients agree bit for bit: torch::equal, no tolerance. (Bit for
// bit only because the checkpoint hands on its input's gradient in the layout
// the backward made, not x.grad's copy in x's strides: the first block's input
// is a transposed view, and its bias gradients summed in another order
// differed in the last bits.)

// Every parameter's gradient equal in both modules (both undefined where frozen).
void expect_equal_gradients(torch::nn::Module& a, torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    const auto& ga = p.value().grad();
    const auto& gb = pb[p.key()].grad();
    ASSERT_EQ(ga.defined(), gb.defined()) << p.key();
    if (ga.defined()) EXPECT_TRUE(torch::equal(ga, gb)) << p.key();
  }
}

TEST(ActivationCheckpoint, RecomputesInTheBackwardWithTheSameGradients) {
  torch::manual_seed(14);
  const auto w = torch::randn({4, 4}).requires_grad_(true);
  int calls = 0;
  const CheckpointedFunction f = [&](const torch::Tensor& in) {
    ++calls;
    return torch::tanh(in.matmul(w)).matmul(w);
  };
  const auto x0 = torch::randn({3, 4}), seed = torch::randn({3, 4});
  // Plain, then checkpointed: the gradients of x and w.
  auto x = x0.clone().requires_grad_(true);
  (f(x) * seed).sum().backward();
  const auto want_x = x.grad().clone(), want_w = w.grad().clone();
  w.mutable_grad().reset();
  calls = 0;
  x = x0.clone().requires_grad_(true);
  const auto y = checkpointed(f, x);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(checkpoint_nodes(y), 1);
  EXPECT_TRUE(torch::equal(y, f(x0))) << "the forward's value";
  calls = 0;
  (y * seed).sum().backward();
  EXPECT_EQ(calls, 1) << "the backward ran f again";
  EXPECT_TRUE(torch::equal(x.grad(), want_x));
  EXPECT_TRUE(torch::equal(w.grad(), want_w)) << "the parameter's gradient accumulated through the rerun";

  // Frozen parameters (stage 1): x still gets its gradient; w none.
  w.mutable_grad().reset();
  w.requires_grad_(false);
  x = x0.clone().requires_grad_(true);
  (checkpointed(f, x) * seed).sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), want_x));
  EXPECT_FALSE(w.grad().defined());
  w.requires_grad_(true);

  // x changed in place after the forward: the rerun would see another input.
  x = x0.clone().requires_grad_(true);
  auto h = x * 1.0;
  const auto z = checkpointed(f, h);
  h.add_(1.0);
  EXPECT_ANY_THROW(z.sum().backward());
}

TEST(ActivationCheckpoint, IsThePlainCallWhereNoGradientIsWanted) {
  torch::manual_seed(15);
  const auto w = torch::randn({4, 4}).requires_grad_(true);
  int calls = 0;
  const CheckpointedFunction f = [&](const torch::Tensor& in) {
    ++calls;
    return torch::tanh(in.matmul(w));
  };
  const auto x = torch::randn({3, 4});
  // x needs no gradient: f once, its own graph, w's gradient as without.
  auto y = checkpointed(f, x);
  EXPECT_EQ(checkpoint_nodes(y), 0);
  ASSERT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(w.grad().defined());
  // Grad mode off: f once, no graph.
  const auto xg = x.clone().requires_grad_(true);
  torch::NoGradGuard no_grad;
  y = checkpointed(f, xg);
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(torch::equal(y, torch::tanh(x.matmul(w))));
}

// Forward and backward of tiny_encoder() with LaCo after block 2, plain and
// checkpointed: the same loss and gradients, and every block checkpointed.
TEST(Encoder, ActivationCheckpointingGivesTheSameLossAndGradients) {
  torch::manual_seed(16);
  VisionEncoder enc(tiny_encoder());
  enc->set_compressor(make_for("laco", 2, 2), 2);
  VisionEncoder ckpt(tiny_encoder());
  ckpt->set_compressor(make_for("laco", 2, 2), 2);
  {
    torch::NoGradGuard no_grad;
    for (const auto& p : ckpt->named_parameters()) p.value().copy_(enc->named_parameters()[p.key()]);
  }
  EXPECT_FALSE(ckpt->activation_checkpointing());
  ckpt->set_activation_checkpointing(true);
  EXPECT_TRUE(ckpt->activation_checkpointing());
  const auto images = torch::randn({2, 3, 54, 54});
  const auto seed = torch::randn({2, 196, 16});
  const auto plain = enc->forward(images, {1, 3});
  const auto out = ckpt->forward(images, {1, 3});
  EXPECT_EQ(checkpoint_nodes(plain.tokens), 0);
  EXPECT_EQ(checkpoint_nodes(out.tokens), 4) << "every block, the compressor not";
  EXPECT_TRUE(torch::equal(out.hidden.at(1), plain.hidden.at(1)));
  EXPECT_TRUE(torch::equal(out.hidden.at(3), plain.hidden.at(3)));
  const auto loss_plain = (plain.tokens * seed).sum(), loss = (out.tokens * seed).sum();
  EXPECT_TRUE(torch::equal(loss, loss_plain));
  loss_plain.backward();
  loss.backward();
  expect_equal_gradients(*ckpt, *enc);
}

// Stage 1: the blocks frozen, the compressor trained. Blocks 1..k see an input
// that needs no gradient and run plain; the blocks after it are checkpointed
// and pass the gradient down to the compressor. With the images requiring a
// gradient every block is checkpointed and the images' gradient is the plain one.
TEST(Encoder, CheckpointedFrozenBlocksStillPassTheGradientDown) {
  torch::manual_seed(17);
  VisionEncoder enc(tiny_encoder());
  enc->set_compressor(make_for("ldpv2", 2, 2), 2);
  for (const auto& p : enc->named_parameters())
    if (p.key().rfind("compressor.", 0) != 0) p.value().requires_grad_(false);
  ASSERT_FALSE(enc->compressor()->parameters().empty());
  const auto seed = torch::randn({2, 196, 16});
  for (const bool images_grad : {false, true}) {
    const auto images = torch::randn({2, 3, 54, 54});
    std::vector<torch::Tensor> grads[2];
    torch::Tensor images_grads[2];
    for (const bool on : {false, true}) {
      enc->zero_grad();
      enc->set_activation_checkpointing(on);
      const auto x = images.clone().requires_grad_(images_grad);
      const auto y = enc->forward(x).tokens;
      EXPECT_EQ(checkpoint_nodes(y), on ? (images_grad ? 4 : 2) : 0) << images_grad;
      (y * seed).sum().backward();
      for (const auto& p : enc->compressor()->parameters()) grads[on].push_back(p.grad().clone());
      images_grads[on] = x.grad();
      for (const auto& p : enc->blocks->parameters()) EXPECT_FALSE(p.grad().defined());
    }
    for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_TRUE(torch::equal(grads[1][i], grads[0][i])) << i;
    ASSERT_EQ(images_grads[1].defined(), images_grad);
    if (images_grad) EXPECT_TRUE(torch::equal(images_grads[1], images_grads[0]));
  }
}

// No gradient wanted (grad mode off; or on with every weight frozen and
// images that need none): the blocks take the fused inference kernels as
// without checkpointing, bit for bit, and nothing is recomputed.
TEST(Encoder, ActivationCheckpointingChangesNothingWithoutGradients) {
  torch::manual_seed(18);
  VisionEncoder enc(tiny_encoder());
  enc->set_compressor(make_for("laco", 2, 2), 2);
  const auto images = torch::randn({2, 3, 54, 54});
  torch::Tensor plain, frozen;
  {
    torch::NoGradGuard no_grad;
    plain = enc->forward(images).tokens;
    enc->set_activation_checkpointing(true);
    EXPECT_TRUE(torch::equal(enc->forward(images).tokens, plain));
    EXPECT_TRUE(torch::equal(enc->forward(images.clone().requires_grad_(true)).tokens, plain));
    enc->set_activation_checkpointing(false);
  }
  for (const auto& p : enc->parameters()) p.requires_grad_(false);
  frozen = enc->forward(images).tokens;
  enc->set_activation_checkpointing(true);
  const auto y = enc->forward(images).tokens;
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(torch::equal(y, frozen));
  EXPECT_TRUE(torch::equal(y, plain)) << "the fused kernels in both";
  // The op-by-op form differs from the fused one in rounding: had checkpointing
  // taken it here, the line above would fail.
  const auto x0 = enc->patch_embed->forward(images).flatten(2).transpose(1, 2) + enc->pos_embed;
  auto* block = enc->blocks[0]->as<EncoderBlock>();
  EXPECT_FALSE(torch::equal(block->forward_composed(x0), block->forward_fused(x0)));
}

}  // namespace
}  // namespace laco
