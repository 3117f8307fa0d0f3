#include <torch/torch.h>

#include "harness/model/grid.h"
#include "tests/test_util.h"

namespace laco {
namespace {

// x[b, i*W + j, c] = 10000*i + 100*j + c: every value names its position.
torch::Tensor positional(Grid g, int64_t c) {
  auto i = torch::arange(g.h).view({g.h, 1, 1}).to(torch::kFloat64);
  auto j = torch::arange(g.w).view({1, g.w, 1}).to(torch::kFloat64);
  auto k = torch::arange(c).view({1, 1, c}).to(torch::kFloat64);
  return (i * 10000 + j * 100 + k).reshape({1, g.tokens(), c});
}

TEST(SpaceToChannel, ChannelOrderIsRowMajorWithinTheWindow) {
  for (int64_t r : {2, 3, 4}) {
    const Grid g{3 * r, 2 * r};
    const int64_t c = 5;
    auto s = space_to_channel(positional(g, c), g, r);
    ASSERT_EQ(s.sizes(), (std::vector<int64_t>{1, 6, r * r * c}));
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t di = 0; di < r; ++di)
          for (int64_t dj = 0; dj < r; ++dj)
            for (int64_t ch = 0; ch < c; ++ch) {
              const double want = 10000.0 * (r * i + di) + 100.0 * (r * j + dj) + ch;
              EXPECT_EQ(s[0][i * 2 + j][(di * r + dj) * c + ch].item<double>(), want);
            }
  }
}

TEST(SpaceToChannel, DiffersFromPixelUnshuffleOrder) {
  const Grid g{4, 4};
  auto x = positional(g, 3);
  auto ours = space_to_channel(x, g, 2);
  auto unshuffled = image_to_tokens(torch::pixel_unshuffle(tokens_to_image(x, g), 2));
  EXPECT_EQ(ours.sizes(), unshuffled.sizes());
  EXPECT_FALSE(torch::equal(ours, unshuffled));
  // pixel_unshuffle puts channel c*r*r + di*r + dj where we put (di*r + dj)*C + c.
  auto reordered = unshuffled.view({1, 4, 3, 4}).transpose(2, 3).reshape({1, 4, 12});
  EXPECT_TRUE(torch::equal(ours, reordered));
}

TEST(GridPolicy, CompressedGridIsCeil) {
  EXPECT_EQ(compressed_grid({27, 27}, 2), (Grid{14, 14}));
  EXPECT_EQ(compressed_grid({27, 27}, 3), (Grid{9, 9}));
  EXPECT_EQ(compressed_grid({27, 27}, 4), (Grid{7, 7}));
  EXPECT_EQ(compressed_grid({24, 10}, 4), (Grid{6, 3}));
}

TEST(GridPolicy, PadAppendsZeroRowsAndColumns) {
  const Grid g{27, 27};
  auto x = positional(g, 2) + 1;
  auto y = apply_grid_policy(x, g, 2, GridPolicy::kPad).view({28, 28, 2});
  auto img = x.view({27, 27, 2});
  EXPECT_TRUE(torch::equal(y.slice(0, 0, 27).slice(1, 0, 27), img));
  EXPECT_EQ(y.select(0, 27).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(y.select(1, 27).abs().sum().item<double>(), 0.0);
}

TEST(GridPolicy, InterpolateResizesBilinearly) {
  const Grid g{27, 27};
  auto constant = torch::full({2, g.tokens(), 3}, 0.5);
  auto y = apply_grid_policy(constant, g, 4, GridPolicy::kInterpolate);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 28 * 28, 3}));
  EXPECT_TRUE(torch::allclose(y, torch::full_like(y, 0.5)));
  // A horizontal ramp stays monotone and keeps its end points.
  auto ramp = torch::linspace(0, 1, 27).view({1, 1, 27, 1}).expand({1, 27, 27, 1}).reshape({1, 729, 1});
  auto z = apply_grid_policy(ramp, g, 2, GridPolicy::kInterpolate).view({28, 28});
  EXPECT_NEAR(z[5][0].item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(z[5][27].item<double>(), 1.0, 1e-6);
  EXPECT_TRUE((z.select(0, 5).diff() >= 0).all().item<bool>());
}

TEST(GridPolicy, DivisibleGridIsLeftUntouched) {
  auto x = torch::randn({2, 144, 4});
  for (auto policy : {GridPolicy::kPad, GridPolicy::kInterpolate, GridPolicy::kError})
    for (int64_t r : {2, 3, 4}) EXPECT_TRUE(apply_grid_policy(x, {12, 12}, r, policy).is_same(x));
}

TEST(GridPolicy, WorkGridSaysWhereTheRealTokensAre) {
  const WorkGrid pad = work_grid_for({27, 25}, 4, GridPolicy::kPad);
  EXPECT_EQ(pad.work, (Grid{28, 28}));
  EXPECT_EQ(pad.valid, (Grid{27, 25}));
  EXPECT_TRUE(pad.padded());
  const WorkGrid resized = work_grid_for({27, 25}, 4, GridPolicy::kInterpolate);
  EXPECT_EQ(resized.work, (Grid{28, 28}));
  EXPECT_FALSE(resized.padded());
  EXPECT_FALSE(work_grid_for({12, 12}, 3, GridPolicy::kPad).padded());

  auto mask = valid_token_mask(pad).view({28, 28});
  EXPECT_EQ(mask.dtype(), torch::kBool);
  EXPECT_EQ(mask.sum().item<int64_t>(), 27 * 25);
  EXPECT_TRUE(mask.slice(0, 0, 27).slice(1, 0, 25).all().item<bool>());
  EXPECT_FALSE(mask.select(0, 27).any().item<bool>());
  EXPECT_FALSE(mask.slice(1, 25).any().item<bool>());
}

TEST(GridPolicy, WindowCountsAreTheValidTokensOfEachWindow) {
  // 13 x 13 at r = 4: windows of 4, 4, 4 and then 1 valid rows (and columns).
  auto counts = window_valid_counts(work_grid_for({13, 13}, 4, GridPolicy::kPad), 4).view({4, 4});
  auto want = torch::tensor({16, 16, 16, 4, 16, 16, 16, 4, 16, 16, 16, 4, 4, 4, 4, 1}, torch::kFloat).view({4, 4});
  EXPECT_TRUE(torch::equal(counts, want)) << counts;
  // 27 x 27 at r = 2: 4 inside, 2 on the last row and column, 1 in the corner; they add up to the grid.
  auto c2 = window_valid_counts(work_grid_for({27, 27}, 2, GridPolicy::kPad), 2, torch::kFloat64).view({14, 14});
  EXPECT_EQ(c2.dtype(), torch::kFloat64);
  EXPECT_EQ(c2[0][0].item<double>(), 4.0);
  EXPECT_EQ(c2[13][0].item<double>(), 2.0);
  EXPECT_EQ(c2[0][13].item<double>(), 2.0);
  EXPECT_EQ(c2[13][13].item<double>(), 1.0);
  EXPECT_EQ(c2.sum().item<double>(), 729.0);
  EXPECT_TRUE(torch::equal(window_valid_counts(work_grid_for({27, 27}, 3, GridPolicy::kPad), 3),
                           torch::full({81}, 9.0)));
}

TEST(GridPolicy, WindowMeanIsTheGroupMeanWhenNothingIsPadded) {
  auto x = torch::randn({2, 144, 3});
  for (int64_t r : {2, 3, 4}) {
    auto s = space_to_channel(x, {12, 12}, r);
    const WorkGrid g = work_grid_for({12, 12}, r, GridPolicy::kPad);
    EXPECT_TRUE(torch::equal(window_mean(s, g, r), channel_group_mean(s, r * r)));
  }
}

TEST(GridPolicy, ErrorPolicyRefusesIndivisibleGrids) {
  auto x = torch::randn({1, 729, 4});
  test::expect_error([&] { apply_grid_policy(x, {27, 27}, 2, GridPolicy::kError); },
                     {"27x27", "not divisible by ratio 2", "'error'", "pad", "interpolate"});
  EXPECT_NO_THROW(apply_grid_policy(x, {27, 27}, 3, GridPolicy::kError));
}

TEST(GridPolicy, ParseNamesTheAllowedValues) {
  EXPECT_EQ(parse_grid_policy("pad"), GridPolicy::kPad);
  EXPECT_EQ(parse_grid_policy("interpolate"), GridPolicy::kInterpolate);
  EXPECT_EQ(parse_grid_policy("error"), GridPolicy::kError);
  test::expect_error([] { parse_grid_policy("crop", "spec.json: grid_policy"); },
                     {"spec.json: grid_policy", "'crop'", "pad, interpolate, error"});
}

}  // namespace
}  // namespace laco
