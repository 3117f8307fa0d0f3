// report/stats: intervals and tests against values worked out by hand, and
// the bold they decide in a table.
#include <cmath>
#include <random>

#include "report/render.h"
#include "report/stats.h"
#include "report/table.h"
#include "tests/test_util.h"

namespace laco {
namespace {

std::vector<bool> answers(int correct, int total) {
  std::vector<bool> v(static_cast<size_t>(total), false);
  for (int i = 0; i < correct; ++i) v[static_cast<size_t>(i)] = true;
  return v;
}

TEST(Stats, AccuracyOfASeedIsPooledOrAMeanOverFamilies) {
  const SeedAnswers seed = {answers(3, 4), answers(1, 2)};
  EXPECT_DOUBLE_EQ(accuracy_percent(seed, AccuracyKind::kPooled), 100.0 * 4 / 6);
  EXPECT_DOUBLE_EQ(accuracy_percent(seed, AccuracyKind::kMeanOfStrata), (75.0 + 50.0) / 2);
}

TEST(Stats, AccuracyIntervalMatchesTheBinomialAndIsReproducible) {
  // 400 questions, 200 right: the bootstrap interval is p ± 1.96 sqrt(p (1 - p) / n) = 50 ± 4.9.
  const std::vector<SeedAnswers> one = {{answers(200, 400)}};
  const Interval ci = accuracy_interval(one, AccuracyKind::kPooled);
  EXPECT_NEAR(ci.lo, 45.1, 0.8);
  EXPECT_NEAR(ci.hi, 54.9, 0.8);
  const Interval again = accuracy_interval(one, AccuracyKind::kPooled);
  EXPECT_EQ(ci.lo, again.lo);
  EXPECT_EQ(ci.hi, again.hi);
  // Every answer right: no spread at all.
  const Interval all = accuracy_interval({{answers(50, 50)}}, AccuracyKind::kPooled);
  EXPECT_EQ(all.lo, 100);
  EXPECT_EQ(all.hi, 100);
  // Two seeds that disagree widen the interval beyond either seed's own.
  const Interval two = accuracy_interval({{answers(160, 400)}, {answers(240, 400)}}, AccuracyKind::kPooled);
  EXPECT_LT(two.lo, 45);
  EXPECT_GT(two.hi, 55);
}

TEST(Stats, PairedDifferenceSeesWhatTheSameQuestionsShow) {
  // Identical answers: a difference of exactly 0, never significant.
  PairedSeed same{{answers(30, 60)}, {answers(30, 60)}};
  const Interval zero = paired_difference_interval({same}, AccuracyKind::kPooled);
  EXPECT_EQ(zero.lo, 0);
  EXPECT_EQ(zero.hi, 0);
  // B is A with 10 of 200 questions more right (and none less): 5 points, and
  // significant because the pairs disagree only on those 10. Unpaired, two
  // accuracies of 50% and 55% on 200 questions each would not be.
  PairedSeed better{{answers(100, 200)}, {answers(110, 200)}};
  const Interval d = paired_difference_interval({better}, AccuracyKind::kPooled);
  EXPECT_LT(d.hi, 0);
  EXPECT_NEAR(d.lo, -8.5, 1.5);
  const Interval ua = accuracy_interval({{answers(100, 200)}}, AccuracyKind::kPooled);
  const Interval ub = accuracy_interval({{answers(110, 200)}}, AccuracyKind::kPooled);
  EXPECT_GT(ua.hi, ub.lo) << "the unpaired intervals overlap";
}

TEST(Stats, MedianIntervalFromOrderStatistics) {
  EXPECT_DOUBLE_EQ(median({3, 1, 2}), 2);
  EXPECT_DOUBLE_EQ(median({4, 1, 3, 2}), 2.5);
  // n = 5: even [min, max] covers the median only with 1 - 2/32 = 93.75%.
  const Interval five = median_interval({5, 1, 4, 2, 3});
  EXPECT_EQ(five.lo, 1);
  EXPECT_EQ(five.hi, 5);
  EXPECT_DOUBLE_EQ(five.coverage, 1 - 2.0 / 32);
  // n = 9: [x(2), x(8)] covers with 1 - 2 (1 + 9) / 512 = 96.1%; [x(3), x(7)] only 82%.
  const Interval nine = median_interval({9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(nine.lo, 2);
  EXPECT_EQ(nine.hi, 8);
  EXPECT_NEAR(nine.coverage, 1 - 20.0 / 512, 1e-12);
}

TEST(Stats, MannWhitneyExactPValues) {
  // Complete separation of 3 and 3: U = 0 in 1 of C(6,3) = 20 orderings, two-sided p = 0.1.
  EXPECT_NEAR(mann_whitney_p({1, 2, 3}, {4, 5, 6}), 0.1, 1e-12);
  // 5 and 5: p = 2 / C(10,5) = 2 / 252.
  EXPECT_NEAR(mann_whitney_p({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}), 2.0 / 252, 1e-12);
  // Interleaved: nothing to see.
  EXPECT_GT(mann_whitney_p({1, 3, 5, 7, 9}, {2, 4, 6, 8, 10}), 0.5);
  EXPECT_DOUBLE_EQ(mann_whitney_p({1, 2}, {1, 2}), 1.0);
}

// Bold marks the best value and every value the test cannot tell from it.
TEST(Stats, BoldIsTheBestAndWhatIsNotSignificantlyDifferent) {
  auto timing = [](std::vector<double> samples) {
    auto e = std::make_shared<Evidence>();
    e->samples = samples;
    Stat s;
    s.n = 1;
    s.mean = median(samples);
    s.ci = median_interval(samples);
    s.evidence = e;
    return Cell::value(s);
  };
  Table t;
  t.columns = {{"method", "", 0, Better::kNone}, {"step", "ms", 1, Better::kLower}};
  t.add_row({Cell::text("a"), timing({10.0, 10.1, 10.2, 10.3, 10.4})});  // best
  t.add_row({Cell::text("b"), timing({10.05, 10.15, 10.25, 10.35, 10.45})});  // within the noise of a
  t.add_row({Cell::text("c"), timing({12.0, 12.1, 12.2, 12.3, 12.4})});  // slower beyond the noise
  t.mark_best();
  EXPECT_TRUE(t.rows[0][1].bold);
  EXPECT_TRUE(t.rows[1][1].bold);
  EXPECT_FALSE(t.rows[2][1].bold);
  // Five repetitions: [min, max] covers the median with 93.75%: marked, and a note gives the coverage.
  EXPECT_EQ(format_cell(t.rows[0][1], t.columns[1]), "10.2 [10.0, 10.4]†");
  bool coverage = false;
  for (const auto& n : t.notes) coverage |= n.find("covering with 93.7% probability") != std::string::npos;
  EXPECT_TRUE(coverage);
  bool said = false;
  for (const auto& n : t.notes) said |= n.find("not significantly different") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace laco

namespace laco {
namespace {

// Issue 41: two timings paired on the rounds of one interleaved group.
TEST(PairedStats, SignedRankPValuesByHand) {
  // All six differences positive: T+ = 21, the largest of 2^6 equally likely sums.
  EXPECT_NEAR(wilcoxon_signed_rank_p({1, 2, 3, 4, 5, 6}), 2.0 / 64, 1e-12);
  // One negative (rank 2): T+ = 19; sums >= 19 are the complements of sums <= 2 (0, 1, 2): 3 of 64.
  EXPECT_NEAR(wilcoxon_signed_rank_p({1, -2, 3, 4, 5, 6}), 2.0 * 3 / 64, 1e-12);
  EXPECT_NEAR(wilcoxon_signed_rank_p({-1, -2, -3, -4, -5, -6}), 2.0 / 64, 1e-12) << "two-sided";
  EXPECT_EQ(wilcoxon_signed_rank_p({0, 0}), 1.0) << "zeros are dropped: nothing to test";
  // Five pairs cannot reach the 5% level: 2 / 32 at best.
  EXPECT_NEAR(wilcoxon_signed_rank_p({1, 2, 3, 4, 5}), 2.0 / 32, 1e-12);
}

TEST(PairedStats, HodgesLehmannRatioAndItsExactCoverage) {
  // Log ratios 0, 0.1, 0.2: Walsh averages 0, .05, .1, .1, .15, .2; their median 0.1.
  const auto three = paired_ratio({1, std::exp(0.1), std::exp(0.2)}, {1, 1, 1});
  EXPECT_EQ(three.n, 3);
  EXPECT_TRUE(three.paired);
  EXPECT_NEAR(three.smallest_p, 0.25, 1e-12) << "2 / 2^3: three rounds can never be significant";
  EXPECT_NEAR(three.ratio, std::exp(0.1), 1e-12);
  // Three pairs: the widest interval, [W_(1), W_(6)], covers with 1 - 2/8 only, and says so.
  EXPECT_NEAR(three.interval.coverage, 0.75, 1e-12);
  EXPECT_NEAR(three.interval.lo, 1.0, 1e-12);
  EXPECT_NEAR(three.interval.hi, std::exp(0.2), 1e-12);
  // Six pairs are the fewest that reach 95%: 1 - 2/64.
  std::vector<double> a, b;
  for (int i = 0; i < 6; ++i) a.push_back(1.2 * (1 + 0.01 * i)), b.push_back(1.0);
  const auto six = paired_ratio(a, b);
  EXPECT_NEAR(six.interval.coverage, 1 - 2.0 / 64, 1e-12);
  EXPECT_LE(six.interval.lo, six.ratio);
  EXPECT_GE(six.interval.hi, six.ratio);
  EXPECT_NEAR(six.p, 2.0 / 64, 1e-12);
  // Rounds with a missing or non-positive value are not pairs.
  EXPECT_EQ(paired_ratio({1, 2, 0}, {1, 1}).n, 2);
}

TEST(PairedStats, UnpairedRatioIsTheTwoSampleHodgesLehmannWithItsExactInterval) {
  // log a = 0.3, 0.4, 0.5; log b = 0, 0.1, 0.2: the nine differences 0.1 .. 0.5
  // (0.1, 0.2 x2, 0.3 x3, 0.4 x2, 0.5); their median 0.3.
  const auto r = unpaired_ratio({std::exp(0.3), std::exp(0.4), std::exp(0.5)}, {1, std::exp(0.1), std::exp(0.2)});
  EXPECT_FALSE(r.paired);
  EXPECT_EQ(r.n, 3);
  EXPECT_NEAR(r.ratio, std::exp(0.3), 1e-12);
  // 3 against 3: the widest interval [D_(1), D_(9)] covers with 1 - 2 / C(6, 3) = 90%.
  EXPECT_NEAR(r.interval.coverage, 0.9, 1e-12);
  EXPECT_NEAR(r.interval.lo, std::exp(0.1), 1e-12);
  EXPECT_NEAR(r.interval.hi, std::exp(0.5), 1e-12);
  EXPECT_NEAR(r.p, 0.1, 1e-12) << "complete separation";
  EXPECT_NEAR(r.smallest_p, 0.1, 1e-12);
  // 8 against 8 reaches 95% with an inner pair of order statistics: P(U <= k - 1) <= 2.5%.
  std::vector<double> a, b;
  for (int i = 0; i < 8; ++i) a.push_back(2.0 + 0.01 * i), b.push_back(1.0 + 0.013 * i);
  const auto eight = unpaired_ratio(a, b);
  EXPECT_GE(eight.interval.coverage, 0.95);
  EXPECT_LT(eight.interval.coverage, 0.97);
  EXPECT_LE(eight.interval.lo, eight.ratio);
  EXPECT_GE(eight.interval.hi, eight.ratio);
  EXPECT_EQ(unpaired_ratio({}, {1}).n, 0);
  EXPECT_EQ(unpaired_ratio({}, {1}).interval.coverage, 0);
}

TEST(PairedStats, TheDetectableShiftShrinksWithRoundsAndNeedsSix) {
  EXPECT_TRUE(std::isinf(signed_rank_detectable_shift(5, 0.05))) << "5 pairs: 2/32 at best";
  EXPECT_TRUE(std::isinf(signed_rank_detectable_shift(8, 0)));
  const double six = signed_rank_detectable_shift(6, 0.05), eight = signed_rank_detectable_shift(8, 0.05),
               twenty = signed_rank_detectable_shift(20, 0.05);
  EXPECT_GT(six, eight);
  EXPECT_GT(eight, twenty);
  EXPECT_NEAR(signed_rank_detectable_shift(8, 0.1), 2 * eight, 1e-3 * eight) << "it scales with the noise";
  EXPECT_EQ(signed_rank_detectable_shift(8, 0.05), eight) << "deterministic";
  // Large n: the t-test's (1.96 + 0.84) sd / sqrt(n), times sqrt(pi / 3) for the signed-rank test's efficiency.
  const double normal = (1.959964 + 0.841621) * 0.05 / std::sqrt(20.0) * std::sqrt(M_PI / 3);
  EXPECT_NEAR(twenty, normal, 0.15 * normal);
  // Check the power at the answer by an independent simulation with our own p-values.
  std::mt19937_64 rng(7);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  int rejected = 0;
  for (int r = 0; r < 1000; ++r) {
    std::vector<double> d;
    for (int i = 0; i < 8; ++i)
      d.push_back(eight + 0.05 * std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()));
    rejected += wilcoxon_signed_rank_p(d) < 0.05;
  }
  EXPECT_NEAR(rejected / 1000.0, 0.8, 0.04);
}

// A machine that drifts: every round is slower than the last by a factor
// (a multiplicative trend), the same for both configurations measured in it,
// plus small independent noise. The paired interval covers the true ratio at
// its stated rate and the paired test sees a 20% difference; the unpaired
// test on the same samples, which sees the drift as noise, mostly does not,
// and the unpaired interval (valid, as the drift is alike for both) is
// several times wider. The old bootstrap of the ratio of medians claimed
// 95% over such samples and covered less: it is gone.
TEST(PairedStats, PairingOnRoundsCancelsADriftingMachine) {
  std::mt19937_64 rng(41);
  auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) / 9007199254740992.0; };
  auto normal = [&] { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); };
  const double truth = 1.2;
  const int replicates = 400, rounds = 8;
  int covered = 0, paired_detects = 0, unpaired_detects = 0, unpaired_covered = 0;
  double stated = 0, paired_width = 0, unpaired_width = 0, unpaired_stated = 0;
  for (int r = 0; r < replicates; ++r) {
    std::vector<double> a, b;
    for (int k = 0; k < rounds; ++k) {
      const double drift = std::exp(0.15 * k);  // 2.9x slower by the last round
      a.push_back(truth * 10 * drift * std::exp(0.03 * normal()));
      b.push_back(10 * drift * std::exp(0.03 * normal()));
    }
    const auto p = paired_ratio(a, b);
    stated = p.interval.coverage;
    covered += p.interval.lo <= truth && truth <= p.interval.hi;
    paired_detects += p.p < 0.05;
    unpaired_detects += mann_whitney_p(a, b) < 0.05;
    paired_width += std::log(p.interval.hi / p.interval.lo);
    const auto u = unpaired_ratio(a, b);
    unpaired_width += std::log(u.interval.hi / u.interval.lo);
    unpaired_stated = u.interval.coverage;
    unpaired_covered += u.interval.lo <= truth && truth <= u.interval.hi;
  }
  EXPECT_GE(stated, 0.95);
  // Coverage at the stated rate, within three binomial standard errors.
  EXPECT_GE(static_cast<double>(covered) / replicates, stated - 3 * std::sqrt(stated * (1 - stated) / replicates));
  EXPECT_GE(paired_detects, replicates * 95 / 100);
  EXPECT_LE(unpaired_detects, replicates * 20 / 100);
  EXPECT_LT(paired_width * 5, unpaired_width) << "the paired interval is several times narrower";
  EXPECT_GE(unpaired_stated, 0.95);
  EXPECT_GE(static_cast<double>(unpaired_covered) / replicates, unpaired_stated - 0.05);
}

}  // namespace
}  // namespace laco
