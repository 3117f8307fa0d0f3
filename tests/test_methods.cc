#include <torch/torch.h>

#include "harness/base/error.h"
#include "methods/laco.h"
#include "methods/laco_pack_cpu.h"
#include "methods/ldpv2.h"
#include "methods/pixel_shuffle.h"
#include "methods/registry.h"
#include "methods/tokenpacker.h"
#include "tests/float32_close.h"
#include "tests/test_util.h"

namespace laco {
namespace {

constexpr int64_t kDim = 8;
constexpr int64_t kBatch = 2;

struct Case {
  std::string method;
  int64_t ratio;
  Grid grid;
  GridPolicy policy;
};

std::string case_name(const Case& c) {
  return c.method + "_r" + std::to_string(c.ratio) + "_" + std::to_string(c.grid.h) + "x" +
         std::to_string(c.grid.w) + "_" + to_string(c.policy);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& m : method_names(MethodSite::kAfterBlock))  // the grid methods (tests/test_token_reduction.cc: the others)
    for (int64_t r : {2, 3, 4})
      for (Grid g : {Grid{12, 12}, Grid{27, 27}, Grid{7, 10}})
        for (auto p : {GridPolicy::kPad, GridPolicy::kInterpolate, GridPolicy::kError}) cases.push_back({m, r, g, p});
  return cases;
}

void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }

class EveryMethod : public ::testing::TestWithParam<Case> {};

TEST_P(EveryMethod, OutputShapeGridAndGradients) {
  const Case c = GetParam();
  torch::manual_seed(1);
  auto comp = make_compressor(c.method, CompressorOptions(kDim).ratio(c.ratio).grid_policy(c.policy));
  auto x = torch::randn({kBatch, c.grid.tokens(), kDim}, torch::requires_grad());
  const bool divisible = c.grid.h % c.ratio == 0 && c.grid.w % c.ratio == 0;
  if (c.method != "none" && c.policy == GridPolicy::kError && !divisible) {
    test::expect_error([&] { comp->forward(x, c.grid); }, {"not divisible", c.grid.str()});
    return;
  }
  auto out = comp->forward(x, c.grid);
  const Grid want = c.method == "none" ? c.grid : compressed_grid(c.grid, c.ratio);
  EXPECT_EQ(out.grid, want);
  EXPECT_EQ(comp->output_grid(c.grid), want);
  ASSERT_EQ(out.tokens.sizes(), (std::vector<int64_t>{kBatch, want.tokens(), kDim}));
  EXPECT_TRUE(torch::isfinite(out.tokens).all().item<bool>());

  // A random projection, not a plain sum: LayerNorm outputs sum to constants.
  (out.tokens * torch::randn_like(out.tokens)).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_GT(x.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : comp->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key() << " receives no gradient";
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, EveryMethod, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) { return case_name(info.param); });

// r x r average pooling computed independently: torch's avg_pool2d on the
// zero-padded image, over avg_pool2d of the (zero-padded) all-ones image, so a
// border window is the mean of its valid tokens.
torch::Tensor reference_avgpool(const torch::Tensor& x, Grid g, int64_t r) {
  const Grid out = compressed_grid(g, r);
  const std::vector<int64_t> pad{0, out.w * r - g.w, 0, out.h * r - g.h};
  auto img = torch::constant_pad_nd(tokens_to_image(x, g), pad, 0.0);
  auto ones = torch::constant_pad_nd(torch::ones({1, 1, g.h, g.w}, x.options()), pad, 0.0);
  return image_to_tokens(torch::avg_pool2d(img, {r, r}, {r, r}) / torch::avg_pool2d(ones, {r, r}, {r, r}));
}

// The mean of each r x r window over the tokens of the grid it holds, by
// slicing the unpadded image window by window: [B, H'*W', C].
torch::Tensor valid_window_means(const torch::Tensor& x, Grid g, int64_t r) {
  const Grid out = compressed_grid(g, r);
  auto img = x.view({x.size(0), g.h, g.w, x.size(2)});
  std::vector<torch::Tensor> windows;
  for (int64_t i = 0; i < out.h; ++i)
    for (int64_t j = 0; j < out.w; ++j)
      windows.push_back(
          img.slice(1, r * i, std::min(r * i + r, g.h)).slice(2, r * j, std::min(r * j + r, g.w)).mean({1, 2}));
  return torch::stack(windows, 1);
}

// The odd grids of the `pad` tests: 27 x 27 at r = 2 (a 1-token border) and
// at r = 4 (3 valid rows in the last window), 13 x 13 at r = 4 (1 valid row),
// 7 x 10 at r = 3 (1 valid row, 1 valid column).
const std::vector<std::pair<Grid, int64_t>> kOddGrids{{{27, 27}, 2}, {{27, 27}, 4}, {{13, 13}, 4}, {{7, 10}, 3}};

// The fused pack against the LibTorch composition it stands in for: S =
// space_to_channel of the zero-padded grid, A = window_mean of S. S is a copy,
// so it is always the same bits. A is a mean of r^2 entries that the pack and
// LibTorch sum in orders of their own: LibTorch's order depends on the vector
// width it dispatches to and on the channel count (Debian's 1.13.1 matched the
// pack's order bit for bit for multiples of 32 channels on one CPU), so A is
// compared within float32's bound for r^2 additions and a division.
TEST(LacoPack, EqualsTheComposition) {
  torch::manual_seed(9);
  for (int64_t r : {2, 3, 4})
    for (Grid g : {Grid{8, 8}, Grid{12, 12}, Grid{13, 13}, Grid{27, 27}, Grid{7, 10}})
      for (int64_t c : {int64_t{5}, int64_t{32}, int64_t{40}, int64_t{64}, int64_t{256}}) {
        auto x = torch::randn({kBatch, g.tokens(), c});
        const WorkGrid wg = work_grid_for(g, r, GridPolicy::kPad);
        const auto s = space_to_channel(apply_grid_policy(x, g, r, GridPolicy::kPad), wg.work, r);
        const auto a = window_mean(s, wg, r);
        const auto p = laco_pack_cpu(x, g, r);
        const std::string where = fmt::format("r={} grid {} C={}", r, g.str(), c);
        EXPECT_TRUE(torch::equal(p.s, s)) << where;
        EXPECT_TRUE(test::float32_close(p.a, a, r * r + 1, x.abs().max().item<double>())) << where;
        // The pack against itself (the same loops on the same shape): the same bits.
        EXPECT_TRUE(torch::equal(laco_pack_cpu(x, g, r, kPackA).a, p.a)) << where;
        EXPECT_FALSE(laco_pack_cpu(x, g, r, kPackA).s.defined());
        EXPECT_TRUE(torch::equal(laco_pack_cpu(x, g, r, kPackS).s, s)) << where;
        EXPECT_FALSE(laco_pack_cpu(x, g, r, kPackS).a.defined());
        // Into given buffers: the same values, in those buffers.
        const LacoPacked into{torch::full_like(s, 7.0), torch::full_like(a, 7.0)};
        const auto q = laco_pack_cpu(x, g, r, kPackS | kPackA, into);
        EXPECT_EQ(q.s.data_ptr(), into.s.data_ptr());
        EXPECT_TRUE(torch::equal(q.s, p.s) && torch::equal(q.a, p.a)) << where;
      }
}

// Where it applies, avgpool, pixel_shuffle and laco run the pack; the same
// call with an input that carries a gradient runs the composition. S is the
// same bits either way and the MLP runs the same kernels on it, so the outputs
// differ at most by A's summation order (LacoPack.EqualsTheComposition) and
// the rounding of the residual add: pixel_shuffle is the same bits.
TEST(LacoPack, MethodsGiveTheSameBitsWithAndWithoutIt) {
  for (const char* method : {"avgpool", "pixel_shuffle", "laco"})
    for (const auto& [g, r] : std::vector<std::pair<Grid, int64_t>>{{{12, 12}, 2}, {{27, 27}, 2}, {{13, 13}, 4}, {{7, 10}, 3}}) {
      torch::manual_seed(4);
      constexpr int64_t kWidth = 32;  // a preset width
      auto comp = make_compressor(method, CompressorOptions(kWidth).ratio(r));
      auto x = torch::randn({kBatch, g.tokens(), kWidth});
      ASSERT_TRUE(laco_pack_applies(x, g, r, GridPolicy::kPad));
      const auto fused = comp->forward(x, g).tokens;
      const auto composed = comp->forward(x.clone().requires_grad_(true), g).tokens.detach();
      const std::string where = fmt::format("{} r={} grid {}", method, r, g.str());
      if (std::string(method) == "pixel_shuffle") {
        EXPECT_TRUE(torch::equal(fused, composed)) << where;
      } else {
        const double scale = std::max(x.abs().max().item<double>(), composed.abs().max().item<double>());
        EXPECT_TRUE(test::float32_close(fused, composed, r * r + 2, scale)) << where;
      }
    }
  // Where it does not apply: a gradient to carry, interpolation of a grid r does not divide, not float32.
  auto x = torch::randn({1, 49, 4});
  EXPECT_FALSE(laco_pack_applies(x.clone().requires_grad_(true), {7, 7}, 2, GridPolicy::kPad));
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(laco_pack_applies(x.clone().requires_grad_(true), {7, 7}, 2, GridPolicy::kPad));
  }
  EXPECT_FALSE(laco_pack_applies(x, {7, 7}, 2, GridPolicy::kInterpolate));
  EXPECT_TRUE(laco_pack_applies(torch::randn({1, 64, 4}), {8, 8}, 2, GridPolicy::kInterpolate));
  EXPECT_FALSE(laco_pack_applies(x.to(torch::kFloat64), {7, 7}, 2, GridPolicy::kPad));
  test::expect_error([&] { laco_pack_cpu(x, {7, 8}, 2); }, {"laco_pack: x must be [B, 56, C] for grid 7x8"});
  test::expect_error([&] { laco_pack_cpu(x, {7, 7}, 5); },
                     {"laco_pack: ratio 5 is not supported (allowed: 2, 3, 4 for 4x, 9x, 16x fewer tokens)"});
  test::expect_error([&] { laco_pack_cpu(x, {7, 7}, 2, kPackS, {torch::zeros({1, 16, 4}), {}}); },
                     {"the given S must be a contiguous float32 CPU tensor [1, 16, 16]"});
}

TEST(AvgPool, EqualsAvgPool2d) {
  torch::manual_seed(2);
  for (int64_t r : {2, 3, 4})
    for (Grid g : {Grid{12, 12}, Grid{27, 27}, Grid{7, 10}}) {
      auto x = torch::randn({kBatch, g.tokens(), kDim});
      auto y = make_compressor("avgpool", CompressorOptions(kDim).ratio(r))->forward(x, g).tokens;
      // Two means of r^2 terms by other kernels; the reference divides twice more.
      EXPECT_TRUE(test::float32_close(y, reference_avgpool(x, g, r), r * r + 3)) << "r=" << r << " grid " << g.str();
    }
}

TEST(AvgPool, PadAveragesTheValidTokensOfEachWindow) {
  torch::manual_seed(21);
  for (const auto& [g, r] : kOddGrids) {
    auto x = torch::randn({kBatch, g.tokens(), kDim}, torch::kFloat64);
    auto avg = make_compressor("avgpool", CompressorOptions(kDim).ratio(r).grid_policy(GridPolicy::kPad));
    auto y = avg->forward(x.to(torch::kFloat32), g).tokens.to(torch::kFloat64);
    // Against the float64 mean rounded to float32: one evaluation's r^2 + 1 roundings and the reference's one.
    const auto want = valid_window_means(x, g, r).to(torch::kFloat32);
    EXPECT_TRUE(test::float32_close(y.to(torch::kFloat32), want, r * r + 2)) << "r=" << r << " grid " << g.str();
  }
}

TEST(Laco, ShortcutUnderPadAveragesTheValidTokensOfEachWindow) {
  torch::manual_seed(22);
  for (const auto& [g, r] : kOddGrids) {
    auto x = torch::randn({kBatch, g.tokens(), kDim}, torch::kFloat64);
    Laco laco(CompressorOptions(kDim).ratio(r).grid_policy(GridPolicy::kPad));
    auto a = laco->shortcut(x.to(torch::kFloat32), g);
    const auto want = valid_window_means(x, g, r).to(torch::kFloat32);
    EXPECT_TRUE(test::float32_close(a, want, r * r + 2)) << "r=" << r << " grid " << g.str();
  }
}

TEST(Laco, ShortcutEqualsAvgPool) {
  torch::manual_seed(3);
  for (int64_t r : {2, 3, 4})
    for (auto policy : {GridPolicy::kPad, GridPolicy::kInterpolate})
      for (Grid g : {Grid{12, 12}, Grid{27, 27}}) {
        const auto options = CompressorOptions(kDim).ratio(r).grid_policy(policy);
        auto x = torch::randn({kBatch, g.tokens(), kDim});
        Laco laco(options);
        auto avg = make_compressor("avgpool", options)->forward(x, g).tokens;
        // The composition's A against the pack's (where it applies): r^2 additions and a division.
        EXPECT_TRUE(test::float32_close(laco->shortcut(x, g), avg, r * r + 1)) << "r=" << r;
      }
}

// Bit equality holds here: a zero last layer makes the MLP branch exactly 0,
// 0 + A is A, and both methods compute A with the same kernel on the same shape.
TEST(Laco, ZeroInitEqualsAvgPoolExactlyAtInitialisation) {
  torch::manual_seed(4);
  for (int64_t r : {2, 3, 4})
    for (Grid g : {Grid{12, 12}, Grid{27, 27}}) {
      const auto options = CompressorOptions(kDim).ratio(r);
      auto x = torch::randn({kBatch, g.tokens(), kDim});
      auto laco = make_compressor("laco", options, {{"zero_init", "true"}});
      auto avg = make_compressor("avgpool", options);
      EXPECT_TRUE(torch::equal(laco->forward(x, g).tokens, avg->forward(x, g).tokens)) << "r=" << r;
    }
}

TEST(Laco, ZeroInitStillTrainsTheLastLayer) {
  torch::manual_seed(5);
  Laco laco(CompressorOptions(kDim).ratio(2), LacoOptions().zero_init(true));
  auto x = torch::randn({kBatch, 144, kDim});
  auto y = laco->forward(x, {12, 12}).tokens;
  (y * torch::randn_like(y)).sum().backward();
  auto last = laco->mlp1[3]->as<torch::nn::Linear>();
  EXPECT_GT(last->weight.grad().abs().sum().item<double>(), 0.0);
}

// Without the residual LaCo runs Pixel-Shuffle's kernels on the same shapes: the same bits.
TEST(Laco, ResidualOffEqualsPixelShuffleWithTheSameWeights) {
  torch::manual_seed(6);
  for (int64_t r : {2, 3, 4}) {
    const auto options = CompressorOptions(kDim).ratio(r);
    PixelShuffle ps(options);
    Laco laco(options, LacoOptions().residual(false));
    {
      torch::NoGradGuard no_grad;
      auto src = ps->named_parameters();
      for (auto& p : laco->named_parameters()) p.value().copy_(src[p.key()]);
    }
    auto x = torch::randn({kBatch, 27 * 27, kDim});
    EXPECT_TRUE(torch::equal(laco->forward(x, {27, 27}).tokens, ps->forward(x, {27, 27}).tokens)) << "r=" << r;

    // With the residual on, laco is exactly that plus the shortcut.
    Laco with_residual(options);
    {
      torch::NoGradGuard no_grad;
      auto src = ps->named_parameters();
      for (auto& p : with_residual->named_parameters()) p.value().copy_(src[p.key()]);
    }
    // shortcut() is the composition's A, forward() the pack's: within A's r^2 additions and the add.
    auto expect = ps->forward(x, {27, 27}).tokens + with_residual->shortcut(x, {27, 27});
    auto got = with_residual->forward(x, {27, 27}).tokens;
    const double scale = std::max(x.abs().max().item<double>(), expect.abs().max().item<double>());
    EXPECT_TRUE(test::float32_close(got, expect, r * r + 2, scale)) << "r=" << r;
  }
}

TEST(Ldpv2, PadPoolsTheValidTokensOfEachWindowOnly) {
  torch::manual_seed(23);
  torch::NoGradGuard no_grad;
  for (const auto& [g, r] : kOddGrids) {
    Ldpv2 ldp(CompressorOptions(kDim).ratio(r).grid_policy(GridPolicy::kPad));
    // Biases start at zero (so the MLP maps a zero token to zero); trained ones are not.
    for (auto& p : ldp->mlp->named_parameters())
      if (p.key().find("bias") != std::string::npos) p.value().normal_();
    auto x = torch::randn({kBatch, g.tokens(), kDim});
    // Independently: the per-token MLP on the real tokens alone, per-window
    // means by slicing, then PEG. A zero pad token maps to what the MLP's
    // biases make of it: that must not enter the border windows.
    const Grid out = compressed_grid(g, r);
    auto pooled = tokens_to_image(valid_window_means(ldp->mlp->forward(x), g, r), out);
    auto want = image_to_tokens(ldp->peg->forward(pooled) + pooled);
    auto y = ldp->forward(x, g).tokens;
    // The same per-token MLP; then two window means (r^2 additions and a
    // division) and PEG's 3 x 3 depthwise convolution (9 products, the bias
    // and the residual add) on what differs.
    EXPECT_TRUE(test::float32_close(y, want, r * r + 1 + 11)) << "r=" << r << " grid " << g.str();
  }
}

// The same operations on the same shapes as the reference's: the same bits.
TEST(Ldpv2, DivisibleGridsStillPoolAdaptively) {
  torch::manual_seed(24);
  torch::NoGradGuard no_grad;
  const Grid g{12, 12};
  for (int64_t r : {2, 3, 4}) {
    Ldpv2 ldp(CompressorOptions(kDim).ratio(r).grid_policy(GridPolicy::kPad));
    auto x = torch::randn({kBatch, g.tokens(), kDim});
    auto pooled = torch::adaptive_avg_pool2d(tokens_to_image(ldp->mlp->forward(x), g), {12 / r, 12 / r});
    EXPECT_TRUE(torch::equal(ldp->forward(x, g).tokens, image_to_tokens(ldp->peg->forward(pooled) + pooled)));
  }
}

TEST(TokenPacker, LevelBlocksFollowTheDepthFractions) {
  EXPECT_EQ(tokenpacker_level_blocks(24), (std::vector<int64_t>{12, 16, 22, 24}));
  EXPECT_EQ(tokenpacker_level_blocks(26), (std::vector<int64_t>{13, 17, 24, 26}));
  EXPECT_EQ(tokenpacker_level_blocks(6), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(tokenpacker_level_blocks(2), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(tokenpacker_level_blocks(1), (std::vector<int64_t>{1}));
  test::expect_error([] { tokenpacker_level_blocks(0); }, {"k must be >= 1"});
}

TEST(TokenPacker, DefaultHeadsDivideTheWidth) {
  EXPECT_EQ(TokenPacker(CompressorOptions(1024))->heads(), 8);
  EXPECT_EQ(TokenPacker(CompressorOptions(1152))->heads(), 9);
  EXPECT_EQ(TokenPacker(CompressorOptions(64))->heads(), 1);
  EXPECT_EQ(TokenPacker(CompressorOptions(64).block(24))->kv_dim(), 4 * 64);
}

TEST(TokenPacker, EachQueryOnlySeesItsOwnWindow) {
  torch::manual_seed(7);
  for (int64_t r : {2, 3, 4}) {
    const Grid g{3 * r, 3 * r};
    TokenPacker tp(CompressorOptions(kDim).ratio(r));
    tp->eval();
    auto x = torch::randn({1, g.tokens(), kDim});
    auto y = tp->forward(x, g).tokens;
    // Change every token outside window (0, 0): output token 0 must not move.
    auto x2 = x.clone().view({g.h, g.w, kDim});
    x2.slice(0, r).add_(1.0);
    x2.slice(0, 0, r).slice(1, r).add_(1.0);
    auto y2 = tp->forward(x2.view({1, g.tokens(), kDim}), g).tokens;
    // The same kernels on the same shapes, other values outside the window: the same bits.
    EXPECT_TRUE(torch::equal(y[0][0], y2[0][0])) << "r=" << r;
    EXPECT_FALSE(torch::allclose(y[0][1], y2[0][1])) << "r=" << r;
  }
}

// A batch of 3 windows against each window alone: other shapes, so other
// OpenBLAS kernels and summation orders (bit equality held on one CPU and
// not on another: issue 26). Compared within float32's bound for the rounded
// operations on one output's path: the in-projection (kDim products and the
// bias), the scores (a head's kDim / 2 products and the scale), the softmax
// (max, exp, a sum over the keys, the division), the weighted sum over the
// keys and the out-projection (kDim products and the bias).
TEST(TokenPacker, MaskedWindowAttentionEqualsAttentionOverTheValidKeys) {
  torch::manual_seed(25);
  torch::NoGradGuard no_grad;
  constexpr int64_t kHeads = 2, kKeys = 4;
  constexpr int64_t kDepth = 2 * (kDim + 1) + (kDim / kHeads + 1) + (kKeys + 3) + kKeys;
  PackedAttention attn(kDim, kHeads);
  auto q = torch::randn({3, 1, kDim});
  auto k = torch::randn({3, kKeys, kDim});
  auto v = torch::randn({3, kKeys, kDim});
  // Window 0 full, window 1 keeps keys 0 and 2 (a bottom border), window 2 key 0 (a corner).
  auto mask = torch::tensor({1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0}, torch::kBool).view({3, 4});
  auto y = attn->forward(q, k, v, mask);
  EXPECT_TRUE(test::float32_close(y[0], attn->forward(q.slice(0, 0, 1), k.slice(0, 0, 1), v.slice(0, 0, 1))[0], kDepth));
  auto keep = torch::tensor({0, 2}, torch::kLong);
  auto y1 =
      attn->forward(q.slice(0, 1, 2), k.slice(0, 1, 2).index_select(1, keep), v.slice(0, 1, 2).index_select(1, keep));
  EXPECT_TRUE(test::float32_close(y[1], y1[0], kDepth));
  auto y2 = attn->forward(q.slice(0, 2, 3), k.slice(0, 2, 3).slice(1, 0, 1), v.slice(0, 2, 3).slice(1, 0, 1));
  EXPECT_TRUE(test::float32_close(y[2], y2[0], kDepth));
  EXPECT_FALSE(torch::allclose(y[1], attn->forward(q, k, v)[1], 1e-4, 1e-4));
}

// TokenPacker with compress() reachable, to hand it a padded grid whose
// padding holds something other than zeros.
struct ExposedTokenPackerImpl : TokenPackerImpl {
  using TokenPackerImpl::compress;
  using TokenPackerImpl::TokenPackerImpl;
};

// t [B, H*W, C] padded as the `pad` policy does, with large random values
// instead of zeros in the padding.
torch::Tensor pad_with_garbage(const torch::Tensor& t, Grid g, int64_t r) {
  const WorkGrid wg = work_grid_for(g, r, GridPolicy::kPad);
  const auto pads = valid_token_mask(wg).logical_not().view({1, wg.work.tokens(), 1});
  auto padded = apply_grid_policy(t, g, r, GridPolicy::kPad);
  return torch::where(pads, 100.0 * torch::randn_like(padded), padded);
}

TEST(TokenPacker, PaddingNeverReachesAnOutputToken) {
  torch::manual_seed(26);
  torch::NoGradGuard no_grad;
  for (const auto& [g, r] : kOddGrids) {
    for (int64_t block : {0, 6}) {
      auto tp = std::make_shared<ExposedTokenPackerImpl>(
          CompressorOptions(kDim).ratio(r).grid_policy(GridPolicy::kPad).block(block));
      auto x = torch::randn({kBatch, g.tokens(), kDim});
      std::vector<torch::Tensor> levels;
      for (size_t i = 0; i < tp->feature_blocks().size(); ++i)
        levels.push_back(torch::randn({kBatch, g.tokens(), kDim}));
      const auto y = tp->forward(x, g, levels).tokens;
      // The same real tokens, something else in the padding.
      const WorkGrid wg = work_grid_for(g, r, GridPolicy::kPad);
      ASSERT_TRUE(wg.padded());
      std::vector<torch::Tensor> garbage_levels;
      for (const auto& l : levels) garbage_levels.push_back(pad_with_garbage(l, g, r));
      const auto y2 = tp->compress(pad_with_garbage(x, g, r), wg, garbage_levels);
      // Relative to the outputs' scale: TokenPacker's small initialisation gives outputs of about 0.05.
      const double diff = (y - y2).abs().max().item<double>(), scale = y.abs().max().item<double>();
      EXPECT_LE(diff, 1e-6 * scale) << "r=" << r << " grid " << g.str() << " block " << block;
    }
  }
}

TEST(TokenPacker, MultiLevelFeaturesFeedKeysAndValues) {
  torch::manual_seed(8);
  TokenPacker tp(CompressorOptions(kDim).ratio(2).block(6));
  ASSERT_EQ(tp->feature_blocks(), (std::vector<int64_t>{3, 4, 6}));
  const Grid g{27, 27};
  auto x = torch::randn({kBatch, g.tokens(), kDim});
  std::vector<torch::Tensor> levels;
  for (int i = 0; i < 3; ++i) levels.push_back(torch::randn({kBatch, g.tokens(), kDim}));
  EXPECT_EQ(tp->forward(x, g, levels).tokens.sizes(), (std::vector<int64_t>{kBatch, 196, kDim}));
  test::expect_error([&] { tp->forward(x, g, {levels[0]}); }, {"kv_dim 24", "8 channels"});
}

TEST(MethodConfig, UnknownMethodListsTheAllowedNames) {
  test::expect_error([] { make_compressor("pixelshuffle", CompressorOptions(kDim)); },
                     {"unknown method 'pixelshuffle'", "none, avgpool, pixel_shuffle, laco, ldpv2, tokenpacker"});
}

TEST(MethodConfig, RatioOutsideTwoToFourIsRefused) {
  for (const auto& m : method_names())
    for (int64_t r : {0, 1, 5, 16})
      test::expect_error([&] { make_compressor(m, CompressorOptions(kDim).ratio(r)); },
                         {"'" + m + "'", "ratio " + std::to_string(r), "allowed: 2, 3, 4"});
}

TEST(MethodConfig, OptionsAreCheckedByName) {
  test::expect_error([] { make_compressor("laco", CompressorOptions(kDim), {{"residul", "true"}}); },
                     {"unknown option 'residul'", "residual, zero_init"});
  test::expect_error([] { make_compressor("laco", CompressorOptions(kDim), {{"residual", "maybe"}}); },
                     {"'residual'", "true or false", "'maybe'"});
  test::expect_error([] { make_compressor("avgpool", CompressorOptions(kDim), {{"zero_init", "true"}}); },
                     {"unknown option 'zero_init'", "allowed: none"});
  test::expect_error([] { make_compressor("tokenpacker", CompressorOptions(kDim), {{"heads", "3"}}); },
                     {"3 heads do not divide width 8"});
}

TEST(MethodConfig, WidthsThatCannotWorkAreRefused) {
  test::expect_error([] { make_compressor("laco", CompressorOptions(kDim).out_dim(16)); },
                     {"out_dim must equal dim", "residual=false"});
  EXPECT_NO_THROW(make_compressor("laco", CompressorOptions(kDim).out_dim(16), {{"residual", "false"}}));
  test::expect_error([] { make_compressor("avgpool", CompressorOptions(kDim).out_dim(16)); }, {"out_dim must equal"});
  test::expect_error([] { make_compressor("none", CompressorOptions(kDim).out_dim(16)); }, {"out_dim must equal"});
  test::expect_error([] { make_compressor("ldpv2", CompressorOptions(0)); }, {"dim must be positive"});
}

TEST(MethodConfig, BadInputsAreErrorsNotCrashes) {
  for (const auto& m : method_names(MethodSite::kAfterBlock)) {
    auto c = make_compressor(m, CompressorOptions(kDim));
    test::expect_error([&] { c->forward(torch::randn({1, 100, kDim}), {12, 12}); }, {"100 tokens", "12x12"});
    test::expect_error([&] { c->forward(torch::randn({1, 144, kDim + 1}), {12, 12}); }, {"9 channels"});
    test::expect_error([&] { c->forward(torch::randn({144, kDim}), {12, 12}); }, {"[batch, tokens, channels]"});
  }
}

// Each method starts as its reference does: PyTorch's default Linear
// (kaiming_uniform, |w| <= 1/sqrt(fan_in), non-zero bias) for InternVL's mlp1
// (pixel_shuffle, LaCo's branch) and LDPv2, trunc_normal(0.02) with zero bias
// for TokenPacker; `init` applies one scheme to all.
TEST(MethodInit, EachMethodFollowsItsReferenceUnlessOneSchemeIsAskedFor) {
  constexpr int64_t dim = 64;  // first Linear: fan_in 64 (ldpv2) or 256 (r^2 C)
  auto first_linear = [](const Compressor& c) {
    for (const auto& m : c->modules(false))
      if (auto* l = m->as<torch::nn::Linear>(); l && l->bias.defined())
        return std::pair{l->weight.detach(), l->bias.detach()};
    ADD_FAILURE() << c->method() << " has no Linear with a bias";
    return std::pair{torch::Tensor(), torch::Tensor()};
  };
  auto scheme_of = [&](const std::string& method, InitScheme init) {
    torch::manual_seed(5);
    auto [w, b] = first_linear(make_compressor(method, CompressorOptions(dim).ratio(2).block(4).init(init)));
    const double std = w.std().item<double>();
    // trunc_normal(0.02): std 0.02, zero bias; kaiming_uniform at fan_in >= 64: std 1/sqrt(3 fan_in) >= 0.036.
    if (std::abs(std - 0.02) < 0.002 && b.abs().max().item<double>() == 0.0) return std::string("trunc_normal");
    const double bound = 1.0 / std::sqrt(static_cast<double>(w.size(1)));
    if (w.abs().max().item<double>() <= bound && std::abs(std - bound / std::sqrt(3.0)) < 0.1 * bound &&
        b.abs().max().item<double>() > 0.0)
      return std::string("torch_default");
    return fmt::format("neither (std {})", std);
  };
  const std::map<std::string, std::string> reference = {
      {"pixel_shuffle", "torch_default"}, {"laco", "torch_default"}, {"ldpv2", "torch_default"},
      {"tokenpacker", "trunc_normal"}};
  for (const auto& [method, scheme] : reference) {
    EXPECT_EQ(scheme_of(method, InitScheme::kReference), scheme) << method;
    EXPECT_EQ(to_string(find_method(method).reference_init), scheme) << method;
    EXPECT_EQ(scheme_of(method, InitScheme::kTruncNormal), "trunc_normal") << method;
    EXPECT_EQ(scheme_of(method, InitScheme::kTorchDefault), "torch_default") << method;
  }
  EXPECT_FALSE(find_method("avgpool").has_weights());
  EXPECT_FALSE(find_method("none").has_weights());
  test::expect_error([] { parse_init_scheme("xavier", "--init"); },
                     {"--init", "'xavier'", "reference, trunc_normal, torch_default"});
}

}  // namespace
}  // namespace laco
