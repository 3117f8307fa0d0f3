// ToMe's primitives (harness/model/token_merge.h) on cases worked by hand.
#include <torch/torch.h>

#include "harness/base/safetensors.h"
#include "parity/checkpoint.h"
#include "harness/model/encoder.h"
#include "harness/model/token_merge.h"
#include "tests/float32_close.h"
#include "tests/test_util.h"

namespace laco {
namespace {

torch::Tensor tokens(std::vector<float> v, int64_t c = 1) {
  const int64_t n = static_cast<int64_t>(v.size()) / c;
  return torch::tensor(v).reshape({1, n, c});
}

std::vector<float> values(const torch::Tensor& t) {
  const auto flat = t.contiguous().reshape({-1});
  return std::vector<float>(flat.data_ptr<float>(), flat.data_ptr<float>() + flat.numel());
}

// A = {t0, t2}, B = {t1, t3}. t0 = t1 (similarity 1); t2 = (0, 1) is closest
// to t3 = (1, 1) (0.707) and orthogonal to t1: t0's edge is the most similar.
const torch::Tensor kMetric = tokens({1, 0, 1, 0, 0, 1, 1, 1}, 2);

TEST(TokenMerge, BipartiteMatchingMergesTheMostSimilarEdgesFirst) {
  const auto m = bipartite_soft_matching(kMetric, 1);
  EXPECT_EQ(m.r, 1);
  EXPECT_EQ(m.merged.item<int64_t>(), 0) << "t0 (A index 0) merges";
  EXPECT_EQ(m.into.item<int64_t>(), 0) << "into t1 (B index 0)";
  EXPECT_EQ(m.unmerged.item<int64_t>(), 1) << "t2 stays";
  // [unmerged A; B with the merged A added]: [t2; t1 + t0, t3].
  const auto x = tokens({10, 20, 30, 40});
  EXPECT_EQ(values(m.sum(x)), (std::vector<float>{30, 30, 40}));
  // Size-weighted means: sizes start at 1, the merged token holds 2.
  auto [merged, size] = merge_weighted(m, x);
  EXPECT_EQ(values(merged), (std::vector<float>{30, 15, 40}));
  EXPECT_EQ(values(size), (std::vector<float>{1, 2, 1}));
  // With sizes carried from earlier merges: t1 holding 3 patches, (10 x 1 + 20 x 3) / 4.
  std::tie(merged, size) = merge_weighted(m, x, tokens({1, 3, 1, 1}));
  EXPECT_EQ(values(merged), (std::vector<float>{30, 17.5, 40}));
  EXPECT_EQ(values(size), (std::vector<float>{1, 4, 1}));
}

TEST(TokenMerge, AtMostHalfTheTokensMergeInOneMatching) {
  const auto x = tokens({10, 20, 30, 40});
  const auto all = bipartite_soft_matching(kMetric, 5);
  EXPECT_EQ(all.r, 2) << "floor(4 / 2)";
  auto [merged, size] = merge_weighted(all, x);
  EXPECT_EQ(values(merged), (std::vector<float>{15, 35})) << "t0 into t1, t2 into t3";
  EXPECT_EQ(values(size), (std::vector<float>{2, 2}));
  const auto none = bipartite_soft_matching(kMetric, 0);
  EXPECT_EQ(none.r, 0);
  EXPECT_TRUE(torch::equal(none.sum(x), x));
  // Five tokens: A = {0, 2, 4}, B = {1, 3}; at most 2 merge, one A token stays.
  const auto odd = bipartite_soft_matching(torch::randn({1, 5, 3}), 9);
  EXPECT_EQ(odd.r, 2);
  EXPECT_EQ(odd.unmerged.size(1), 1);
  EXPECT_EQ(odd.sum(torch::randn({1, 5, 4})).sizes(), (std::vector<int64_t>{1, 3, 4}));
  test::expect_error([] { bipartite_soft_matching(torch::randn({1, 1, 3}), 1); }, {"at least 2 tokens, got 1"});
  test::expect_error([] { bipartite_soft_matching(torch::randn({4, 3}), 1); }, {"[batch, tokens, channels]"});
  test::expect_error([] { bipartite_soft_matching(kMetric, -1); }, {"r must be >= 0, got -1"});
}

TEST(TokenMerge, EachRequestOfABatchIsMatchedOnItsOwn) {
  torch::manual_seed(5);
  const auto metric = torch::randn({3, 9, 4}), x = torch::randn({3, 9, 6});
  const auto batched = merge_weighted(bipartite_soft_matching(metric, 3), x);
  for (int64_t i = 0; i < 3; ++i) {
    const auto one = merge_weighted(bipartite_soft_matching(metric.narrow(0, i, 1), 3), x.narrow(0, i, 1));
    EXPECT_TRUE(torch::equal(batched.first.narrow(0, i, 1), one.first)) << i;
    EXPECT_TRUE(torch::equal(batched.second.narrow(0, i, 1), one.second)) << i;
  }
}

// Proportional attention: a merged token of size s with log(s) on its logit
// is attended to as its s identical copies would be.
TEST(TokenMerge, ProportionalAttentionWeighsATokenByItsSize) {
  torch::manual_seed(6);
  const auto q = torch::randn({1, 2, 3, 4}), k = torch::randn({1, 2, 2, 4}), v = torch::randn({1, 2, 2, 4});
  auto attend = [&](const torch::Tensor& keys, const torch::Tensor& vals, const torch::Tensor& bias) {
    auto logits = torch::matmul(q, keys.transpose(-1, -2)) / 2.0;
    if (bias.defined()) logits = logits + bias;
    return torch::matmul(torch::softmax(logits, -1), vals);
  };
  // Key 0 three times over, key 1 once; against the two keys with sizes (3, 1).
  const auto idx = torch::tensor({0, 0, 0, 1}, torch::kLong);
  const auto copies = attend(k.index_select(2, idx), v.index_select(2, idx), {});
  const auto bias = proportional_attention_bias(torch::tensor({3.0f, 1.0f}).reshape({1, 2, 1}));
  EXPECT_EQ(bias.sizes(), (std::vector<int64_t>{1, 1, 1, 2}));
  EXPECT_TRUE(torch::allclose(attend(k, v, bias), copies, 1e-5, 1e-6));
}

EncoderOptions block_options() { return EncoderOptions().image_size(8).patch_size(4).width(16).depth(1).heads(2).mlp_dim(24); }

// Without merging and with every size 1, a merging block is the block.
TEST(TokenMerge, ABlockThatMergesNothingIsTheBlock) {
  torch::manual_seed(7);
  const auto o = block_options();
  EncoderBlock block(o.width(), o.heads(), o.mlp_dim(), o.ln_eps());
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 6, 16});
  const auto [y, size] = block->forward_merging(x, {}, {0});
  EXPECT_TRUE(test::float32_close(y, block->forward_composed(x), encoder_chain_length(o, 1)));
  EXPECT_TRUE(torch::equal(size, torch::ones({2, 6, 1})));
}

// A token present twice merges with its copy (their keys are equal: the most
// similar edge), and the merged token of size 2, attended to proportionally,
// gives every token what a block over the token once with size 2 gives: in
// ToMe's order, [the unmerged A tokens; B].
TEST(TokenMerge, ABlockMergesACopyIntoOneTokenOfSizeTwo) {
  torch::manual_seed(8);
  const auto o = block_options();
  EncoderBlock block(o.width(), o.heads(), o.mlp_dim(), o.ln_eps());
  const auto t = torch::randn({1, 1, 16}), u = torch::randn({1, 1, 16}), w = torch::randn({1, 1, 16});
  torch::NoGradGuard no_grad;
  const auto [merged, size] = block->forward_merging(torch::cat({t, t, u, w}, 1), {}, {1});
  // A = {t, u} (positions 0, 2), B = {t, w}: t merges into its copy; u stays: [u; t (size 2), w].
  EXPECT_TRUE(torch::equal(size.flatten(), torch::tensor({1.0f, 2.0f, 1.0f})));
  const auto [once, once_size] = block->forward_merging(torch::cat({t, u, w}, 1), torch::tensor({2.0f, 1.0f, 1.0f}).reshape({1, 3, 1}), {0});
  const auto reordered = once.index_select(1, torch::tensor({1, 0, 2}, torch::kLong));
  EXPECT_TRUE(test::float32_close(merged, reordered, encoder_chain_length(o, 1)));
}

TEST(TokenMerge, GradientsFlowThroughTheMergedTokens) {
  torch::manual_seed(9);
  const auto o = block_options();
  EncoderBlock block(o.width(), o.heads(), o.mlp_dim(), o.ln_eps());
  const auto x = torch::randn({2, 8, 16}, torch::requires_grad());
  auto [y, size] = block->forward_merging(x, {}, {3});
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 5, 16}));
  y.sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : block->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
}

// Parity with ToMe's semantics (scripts/token_merge_fixtures.py: ToMeBlock and
// ToMeAttention with bipartite_soft_matching and merge_wavg, in float64):
// three blocks merging 4 tokens each, 16 -> 4, with proportional attention
// from the second block on.
TEST(TokenMerge, BlocksReproduceTheReferenceSemantics) {
  const auto file = SafeTensors::load(std::string(LACO_SOURCE_DIR) + "/tests/token_merge/tome_blocks.safetensors");
  const auto o = block_options();
  torch::NoGradGuard no_grad;
  auto x = file.get("input.x");
  const auto r = file.get("input.r");
  torch::Tensor size;
  for (int64_t i = 0; i < r.size(0); ++i) {
    EncoderBlock block(o.width(), o.heads(), o.mlp_dim(), o.ln_eps());
    for (auto& p : block->named_parameters()) p.value().copy_(file.get(fmt::format("block.{}.{}", i, p.key())));
    std::tie(x, size) = block->forward_merging(x, size, {r[i].item<int64_t>()});
  }
  EXPECT_TRUE(torch::equal(size, file.get("output.size"))) << size.flatten();
  // Each block's chain, and the merged sums of up to 4 tokens per block.
  EXPECT_TRUE(test::float32_close(x, file.get("output.tokens"), encoder_chain_length(o, 3) + 3 * 4));
}

TEST(TokenMerge, SchedulesSplitTheTokensToRemoveAsEquallyAsTheyCan) {
  // 27 x 27 to 14 x 14 (1/4 of the grid) over blocks 7..26: 533 = 13 x 27 + 7 x 26.
  const auto r = merge_schedule(729, 196, 20);
  ASSERT_EQ(r.size(), 20u);
  EXPECT_EQ(r.front(), 27);
  EXPECT_EQ(r.back(), 26);
  EXPECT_EQ(std::count(r.begin(), r.end(), 27), 13);
  int64_t sum = 0;
  for (int64_t x : r) sum += x;
  EXPECT_EQ(sum, 533);
  EXPECT_EQ(merge_schedule(10, 3, 2), (std::vector<int64_t>{4, 3}));  // 10 -> 6 -> 3, each at most half
  test::expect_error([] { merge_schedule(10, 2, 2); }, {"10 tokens cannot become 2 in 2 matchings", "matching 2 would remove 4 of 6"});
  test::expect_error([] { merge_schedule(729, 196, 1); }, {"matching 1 would remove 533 of 729 (at most half)"});
  test::expect_error([] { merge_schedule(10, 10, 2); }, {"the target must be in 1..9", "got 10"});
  test::expect_error([] { merge_schedule(10, 0, 2); }, {"got 0"});
  test::expect_error([] { merge_schedule(10, 3, 0); }, {"at least one matching, got 0"});
}

}  // namespace
}  // namespace laco
