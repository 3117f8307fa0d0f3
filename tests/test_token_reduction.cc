// The methods that reduce tokens inside encoder blocks (tome, evit) or inside
// the LM (fastv): their primitives by hand, parity with their references'
// semantics (scripts/evit_fixtures.py, scripts/fastv_fixtures.py), their
// place in the encoder, the LM and the MLLM, and their FLOP and decode models.
#include <torch/torch.h>

#include "evals/decode.h"
#include "evals/flops.h"
#include "harness/base/safetensors.h"
#include "parity/checkpoint.h"
#include "harness/model/encoder.h"
#include "harness/model/lm.h"
#include "harness/model/mllm.h"
#include "harness/model/token_merge.h"
#include "harness/model/token_prune.h"
#include "methods/fastv.h"
#include "methods/registry.h"
#include "methods/tome.h"
#include "tests/float32_close.h"
#include "tests/test_util.h"

namespace laco {
namespace {

std::vector<float> values(const torch::Tensor& t) {
  const auto flat = t.contiguous().reshape({-1}).to(torch::kFloat32);
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

SafeTensors fixture(const std::string& name) {
  return SafeTensors::load(std::string(LACO_SOURCE_DIR) + "/tests/token_prune/" + name);
}

// --- EViT -------------------------------------------------------------------

TEST(TokenPrune, AttentionReceivedIsTheMeanOverHeadsAndQueries) {
  // One head, two queries: rows (0.25, 0.75) and (0.5, 0.5); a second head all 0.5.
  const auto probs = torch::tensor({0.25f, 0.75f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}).reshape({1, 2, 2, 2});
  EXPECT_EQ(values(attention_received(probs)), (std::vector<float>{0.4375f, 0.5625f}));
}

TEST(TokenPrune, KeepAndFuseKeepsTheBestAndSumsTheRestByScore) {
  const auto h = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 4, 1});
  const auto score = torch::tensor({0.1f, 0.4f, 0.2f, 0.3f}).reshape({1, 4});
  // Tokens 1 and 3 (best first), then 0.1 x 1 + 0.2 x 3 (not renormalised, as EViT).
  const auto out = keep_and_fuse(h, score, 2);
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 3, 1}));
  EXPECT_NEAR(values(out)[0], 2.0f, 0);
  EXPECT_NEAR(values(out)[1], 4.0f, 0);
  EXPECT_NEAR(values(out)[2], 0.7f, 1e-7);
  // Ties go to the lower index.
  EXPECT_EQ(values(top_tokens(torch::tensor({0.5f, 0.2f, 0.5f}).reshape({1, 3}), 1)), (std::vector<float>{0}));
  test::expect_error([&] { keep_and_fuse(h, score, 4); }, {"keep must be in 1..3 of 4 tokens, got 4"});
  test::expect_error([&] { keep_and_fuse(h, score.narrow(1, 0, 3), 2); }, {"scores must be [batch, tokens]"});
}

EncoderOptions block_options() { return EncoderOptions().image_size(16).patch_size(4).width(16).depth(3).heads(2).mlp_dim(24); }

void load_block(EncoderBlock& block, const SafeTensors& file, int64_t i) {
  torch::NoGradGuard no_grad;
  for (auto& p : block->named_parameters()) p.value().copy_(file.get(fmt::format("block.{}.{}", i, p.key())));
}

// Parity with EViT's semantics (scripts/evit_fixtures.py: youweiliang/evit's
// Block with fuse_token, the score the attention received): one block, 16
// tokens -> 5 kept + 1 fused.
TEST(TokenPrune, EvitBlockReproducesTheReferenceSemantics) {
  const auto file = fixture("evit_block.safetensors");
  const auto o = block_options();
  EncoderBlock block(o.width(), o.heads(), o.mlp_dim(), o.ln_eps());
  load_block(block, file, 0);
  torch::NoGradGuard no_grad;
  const int64_t keep = file.get("input.keep")[0].item<int64_t>();
  torch::Tensor score;
  const auto [y, size] = block->forward_reducing(
      file.get("input.x"), {}, [&](const torch::Tensor& h, const torch::Tensor&, const EncoderBlockImpl::Attention& a) {
        score = attention_received(a.probs);
        return std::make_pair(keep_and_fuse(h, score, keep), torch::Tensor());
      });
  EXPECT_TRUE(test::float32_close(score, file.get("output.score"), encoder_chain_length(o, 1)));
  EXPECT_TRUE(torch::equal(top_tokens(score, keep), file.get("output.kept")));
  EXPECT_FALSE(size.defined());
  // The block's chain, and the fused token's sum of 11 weighted tokens.
  EXPECT_TRUE(test::float32_close(y, file.get("output.tokens"), encoder_chain_length(o, 1) + 11));
}

// In the encoder, evit at k prunes inside block k: block k-1 sees every
// token, block k's MLP and every later block the budget; the blocks run as
// a hand-written chain does.
TEST(TokenPrune, EvitInTheEncoderPrunesInsideBlockK) {
  torch::manual_seed(31);
  const auto o = block_options();
  VisionEncoder enc(o);
  enc->set_compressor(make_compressor("evit", CompressorOptions(16).ratio(2).block(2).depth(3).heads(2)), 2);
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 3, 16, 16});
  const auto out = enc->forward(images, {1, 2, 3});
  EXPECT_EQ(out.grid, (Grid{1, 4})) << "a set of the ratio's budget, not a grid";
  EXPECT_EQ(out.hidden.at(1).size(1), 16);
  EXPECT_EQ(out.hidden.at(2).size(1), 4);
  auto x = enc->patch_embed->forward(images).flatten(2).transpose(1, 2) + enc->pos_embed;
  x = enc->blocks[0]->as<EncoderBlock>()->forward_composed(x);
  x = enc->blocks[1]
          ->as<EncoderBlock>()
          ->forward_reducing(x, {},
                             [](const torch::Tensor& h, const torch::Tensor&, const EncoderBlockImpl::Attention& a) {
                               return std::make_pair(keep_and_fuse(h, attention_received(a.probs), 3), torch::Tensor());
                             })
          .first;
  x = enc->blocks[2]->as<EncoderBlock>()->forward_composed(x);
  EXPECT_TRUE(test::float32_close(out.tokens, x, encoder_chain_length(o, 3) + 13));
}

// --- ToMe ---------------------------------------------------------------------

TEST(TokenMergePlan, ConstantRWhereItReachesTheBudgetElseTheLastBlockMatchesAgain) {
  // 27 x 27 to 14 x 14 over blocks 7..26: merge_schedule's constant r.
  const auto plan = merge_plan(729, 196, 20);
  ASSERT_EQ(plan.size(), 20u);
  for (size_t i = 0; i < plan.size(); ++i) EXPECT_EQ(plan[i], std::vector<int64_t>{merge_schedule(729, 196, 20)[i]});
  // After the encoder: half, then the rest (365 -> 196).
  EXPECT_EQ(merge_plan(729, 196, 1), (std::vector<std::vector<int64_t>>{{364, 169}}));
  // 729 -> 49 (1/16) in the last block: half each time (364, 182, 91), then the last 43 of 92.
  EXPECT_EQ(merge_plan(729, 49, 1), (std::vector<std::vector<int64_t>>{{364, 182, 91, 43}}));
  // 16 -> 4 over 2 blocks: 6 (of 16), then 5 (half of 10) and 1.
  EXPECT_EQ(merge_plan(16, 4, 2), (std::vector<std::vector<int64_t>>{{6}, {5, 1}}));
  test::expect_error([] { merge_plan(16, 16, 2); }, {"target must be in 1..15", "got 16"});
  test::expect_error([] { merge_plan(16, 4, 0); }, {"at least one block, got 0"});
}

// In the encoder, tome at k merges in blocks k..L as its plan says, each
// block with proportional attention on the sizes so far.
TEST(TokenMergePlan, TomeInTheEncoderRunsItsPlanOverBlocksKToL) {
  torch::manual_seed(32);
  const auto o = block_options();
  VisionEncoder enc(o);
  auto c = make_compressor("tome", CompressorOptions(16).ratio(2).block(2).depth(3).heads(2));
  enc->set_compressor(c, 2);
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 3, 16, 16});
  const auto out = enc->forward(images);
  EXPECT_EQ(out.grid, (Grid{1, 4}));
  auto x = enc->patch_embed->forward(images).flatten(2).transpose(1, 2) + enc->pos_embed;
  x = enc->blocks[0]->as<EncoderBlock>()->forward_composed(x);
  torch::Tensor size;
  std::tie(x, size) = enc->blocks[1]->as<EncoderBlock>()->forward_merging(x, size, {6});
  std::tie(x, size) = enc->blocks[2]->as<EncoderBlock>()->forward_merging(x, size, {5, 1});
  EXPECT_TRUE(test::float32_close(out.tokens, x, encoder_chain_length(o, 3) + 3 * 8));
  EXPECT_TRUE(torch::equal(size.sum(1).flatten(), torch::full({2}, 16.0f))) << "every patch is in one token";
  // The method's per-block counts, attention and MLP.
  const auto blocks = c->block_tokens({4, 4});
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].attention, 16);
  EXPECT_EQ(blocks[0].mlp, 16);
  EXPECT_EQ(blocks[1].attention, 16);
  EXPECT_EQ(blocks[1].mlp, 10);
  EXPECT_EQ(blocks[2].attention, 10);
  EXPECT_EQ(blocks[2].mlp, 4);
}

TEST(TokenMergePlan, MethodsInsideBlocksNeedTheirBlockAndDepth) {
  auto c = make_compressor("tome", CompressorOptions(16).ratio(2));
  test::expect_error([&] { c->block_tokens({4, 4}); }, {"method 'tome' needs its block k and the encoder's depth"});
  test::expect_error([&] { c->forward(torch::randn({1, 16, 16}), {4, 4}); },
                     {"method 'tome' acts in_blocks", "not after a block"});
  test::expect_error([] { make_compressor("evit", CompressorOptions(16).out_dim(8)); }, {"out_dim must equal dim"});
}

// The FLOP model by hand: 4 x 4 grid, width 16, 2 heads, MLP 24, 3 blocks, at k = 2, r = 2.
TEST(TokenReductionFlops, BlocksCountTheirAttentionAndMlpTokensAndTheMethodsTheirScores) {
  MllmOptions m;
  m.encoder = block_options();
  m.lm = LmOptions().vocab(32).width(16).layers(3).heads(4).kv_heads(2).mlp_dim(24);
  auto block = [](double na, double nm) {  // qkv + proj 4C^2, MLP 2CM per token; scores and mixing 2 N^2 C
    return 2.0 * na * 4 * 256 + 2.0 * nm * 2 * 16 * 24 + 4.0 * na * na * 16;
  };
  auto tome = make_compressor("tome", CompressorOptions(16).ratio(2).block(2).depth(3).heads(2));
  auto f = count_flops(m, tome.get(), 2, 1, 5);
  EXPECT_DOUBLE_EQ(f.encoder_pre.total(), block(16, 16) + block(16, 10));
  EXPECT_DOUBLE_EQ(f.encoder_post.total(), block(10, 4));
  // Block 2: the keys' mean 16 x 16, A x B = 8 x 8 on a head's width 8; block 3: 10 x 16, 5 x 5 then 3 x 2.
  EXPECT_DOUBLE_EQ(f.compressor, 256 + 2.0 * 64 * 8 + 160 + 2.0 * 25 * 8 + 2.0 * 6 * 8);
  EXPECT_DOUBLE_EQ(f.lm.total(), 3 * lm_layer_flops(m.lm, 4 + 5, f.causal));

  auto evit = make_compressor("evit", CompressorOptions(16).ratio(2).block(2).depth(3).heads(2));
  f = count_flops(m, evit.get(), 2, 1, 5);
  EXPECT_DOUBLE_EQ(f.encoder_pre.total(), block(16, 16) + block(16, 4));
  EXPECT_DOUBLE_EQ(f.encoder_post.total(), block(4, 4));
  EXPECT_DOUBLE_EQ(f.compressor, 2.0 * 16 * 16 + 2.0 * 13 * 16) << "the score's mean, the 13 fused tokens";

  // fastv after LM layer 1: 16 visual + 5 text in layer 1, 4 + 5 in layers 2 and 3.
  auto fastv = make_compressor("fastv", CompressorOptions(16).ratio(2).block(3).depth(3), {{"after_layer", "1"}});
  f = count_flops(m, fastv.get(), 3, 1, 5);
  EXPECT_DOUBLE_EQ(f.encoder_pre.total(), 3 * block(16, 16));
  EXPECT_DOUBLE_EQ(f.encoder_post.total(), 0);
  EXPECT_DOUBLE_EQ(f.projector, projector_flops(16, 16, 16));
  EXPECT_DOUBLE_EQ(f.lm.total(), lm_layer_flops(m.lm, 21, f.causal) + 2 * lm_layer_flops(m.lm, 9, f.causal));
}

// --- FastV --------------------------------------------------------------------

LmOptions fastv_lm() { return LmOptions().vocab(32).width(16).layers(3).heads(4).kv_heads(2).mlp_dim(24); }

DecoderLM load_fastv_lm(const SafeTensors& file) {
  DecoderLM lm(fastv_lm());
  torch::NoGradGuard no_grad;
  for (auto& p : lm->named_parameters()) p.value().copy_(file.get(p.key()));
  return lm;
}

TEST(LmPruning, KeptPositionsAndTheirOrder) {
  const auto score = torch::tensor({0.1f, 0.5f, 0.2f, 0.5f, 0.3f}).reshape({1, 5});
  const auto kept = keep_visual(score, 2, 3);  // 0.5, 0.5 (ties: lower first), 0.3: indices 1, 3, 4, ascending, + 2
  EXPECT_EQ(values(kept), (std::vector<float>{3, 5, 6}));
  EXPECT_EQ(values(kept_positions(kept, 2, 5, 9)), (std::vector<float>{0, 1, 3, 5, 6, 7, 8}));
  const LmPrune prune{1, 2, 5, 3};
  EXPECT_EQ(prune.dropped(), 2);
  EXPECT_EQ(prune.positions(1, 9), 9);
  EXPECT_EQ(prune.positions(2, 9), 7);
  EXPECT_EQ(LmPrune{}.positions(2, 9), 9);
}

// Parity with FastV's semantics (scripts/fastv_fixtures.py: layer 1's
// attention of the last prompt position, 4 of 12 visual positions kept,
// their original RoPE positions), without a cache and with either cache;
// then two generated positions that see only the kept ones after layer 1.
TEST(LmPruning, FastvReproducesTheReferenceSemantics) {
  const auto file = fixture("fastv_lm.safetensors");
  auto lm = load_fastv_lm(file);
  const auto visual = file.get("input.visual");
  const LmPrune prune{file.get("input.after_layer")[0].item<int64_t>(), visual[0].item<int64_t>(),
                      visual[1].item<int64_t>(), file.get("input.keep")[0].item<int64_t>()};
  const auto embeddings = file.get("input.embeddings"), next = file.get("input.next");
  const auto want = file.get("output.prompt"), want_next = file.get("output.next");
  torch::NoGradGuard no_grad;
  const int64_t depth = lm_chain_length(fastv_lm(), 16);

  // The score and the choice, from layer 1 as the LM computes them.
  auto [cos, sin] = lm->rope_tables(16, embeddings.options());
  torch::Tensor score;
  lm->layers[0]->as<DecoderLayer>()->forward(embeddings, cos, sin, nullptr, 0, &score);
  EXPECT_TRUE(test::float32_close(score.narrow(1, 0, 12), file.get("output.score"), depth));
  EXPECT_TRUE(torch::equal(keep_visual(score.narrow(1, 0, 12), 0, 4), file.get("output.keep")));

  EXPECT_TRUE(test::float32_close(lm->forward(embeddings, prune), want, depth));
  for (int64_t capacity : {0, 18}) {
    KvCache cache(capacity);
    EXPECT_TRUE(test::float32_close(lm->forward(embeddings, cache, prune), want, depth)) << capacity;
    EXPECT_EQ(cache.layers[0].length, 16);
    EXPECT_EQ(cache.layers[1].length, 8) << "4 kept visual + 4 text";
    EXPECT_EQ(cache.layers[2].length, 8);
    EXPECT_EQ(cache.positions(), 16) << "the sequence's length: the next position is 16";
    if (capacity) {
      EXPECT_EQ(cache.layers[0].k.size(2), 18);
      EXPECT_EQ(cache.layers[1].k.size(2), 10) << "a pruned layer's buffer is that much shorter";
    }
    for (int64_t i = 0; i < 2; ++i) {
      const auto h = lm->forward(next.narrow(1, i, 1), cache, prune);  // a prune applies to the prefill only
      EXPECT_TRUE(test::float32_close(h, want_next.narrow(1, i, 1), depth)) << capacity << " step " << i;
    }
    EXPECT_EQ(cache.layers[2].length, 10);
  }
}

TEST(LmPruning, BadPruningsAreErrors) {
  DecoderLM lm(fastv_lm());
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 6, 16});
  test::expect_error([&] { lm->forward(x, LmPrune{3, 0, 4, 2}); }, {"after layer 3 leaves no layer of 3", "1..2"});
  test::expect_error([&] { lm->forward(x, LmPrune{1, 0, 7, 2}); }, {"keeps 2 of positions 0..6", "6 positions"});
  test::expect_error([&] { lm->forward(x, LmPrune{1, 0, 4, 5}); }, {"keeps 5 of positions 0..3"});
}

// The MLLM: fastv's encoder output is the whole grid, the LM holds the
// budget after layer K, and the decode model's cache is what generation allocates.
TEST(LmPruning, FastvInTheMllmPrunesThePromptOnceAndTheCacheMatchesTheModel) {
  torch::manual_seed(33);
  MllmOptions o;
  o.encoder = block_options();
  o.lm = fastv_lm();
  Mllm m(o);
  m->insert(make_compressor("fastv", CompressorOptions(16).ratio(2).block(3).depth(3), {{"after_layer", "1"}}), 3);
  EXPECT_EQ(m->visual_input_tokens(2), 32);
  EXPECT_EQ(m->visual_tokens(2), 8) << "2 crops x the 2 x 2 budget";
  const LmPrune prune = m->lm_prune(32);
  EXPECT_EQ(prune.after_layer, 1);
  EXPECT_EQ(prune.keep, 8);
  m->eval();
  torch::NoGradGuard no_grad;
  const auto images = torch::randn({2, 2, 3, 16, 16});
  const auto ids = torch::randint(32, {2, 5}, torch::kLong);
  const auto g = m->generate(images, ids, 4);
  EXPECT_EQ(g.prompt, 37);
  EXPECT_EQ(static_cast<double>(g.cache_bytes), 2 * kv_cache_bytes(o.lm, 37 + 3, 4, prune));
  // Greedy generation's first id is the prefill's argmax, pruned alike.
  EXPECT_TRUE(torch::equal(g.ids.select(1, 0), m->prefill(images, ids).argmax(-1)));
  test::expect_error([&] { Mllm(o)->insert(make_compressor("fastv", CompressorOptions(16).block(2).depth(3)), 2); },
                     {"acts inside the LM", "placement is after the last block (k = 3"});
}

TEST(LmPruning, DecodeModelCountsEachLayersCache) {
  const auto l = fastv_lm();  // 3 layers, 2 KV heads of 4: 2 x 2 x 4 x 4 bytes per position and layer
  const LmPrune prune{1, 0, 12, 4};
  EXPECT_DOUBLE_EQ(kv_cache_bytes(l, 20, 4, prune), (20 + 12 + 12) * 64.0);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(l, 20), 3 * 20 * 64.0);
  const auto full = decode_step(l, 20, 1), pruned = decode_step(l, 20, 1, 4, prune);
  EXPECT_DOUBLE_EQ(full.kv_bytes - pruned.kv_bytes, 2 * 8 * 64.0);
  EXPECT_DOUBLE_EQ(full.flops - pruned.flops, 2.0 * 2.0 * 16 * 16) << "16 fewer keys, a 16-wide query";
  EXPECT_DOUBLE_EQ(full.weight_bytes, pruned.weight_bytes);
}

}  // namespace
}  // namespace laco
