// report/stats: intervals and tests against values worked out by hand, and
// the bold they decide in a table.
#include <cmath>

#include "report/stats.h"
#include "report/table.h"
#include "report/render.h"
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
  EXPECT_EQ(format_cell(t.rows[0][1], t.columns[1]), "10.2 [10.0, 10.4]");
  bool said = false;
  for (const auto& n : t.notes) said |= n.find("not significantly different") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace laco
