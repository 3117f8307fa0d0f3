// Benchmark runs in `laco report`, `laco compare` and `laco query`
// (report/benchmark_table.h, report/benchmark_stats.h): values, paired
// differences and unchanged shares worked out by hand on tiny sets of
// responses; bootstrap intervals that hold their point and regenerate alike;
// MME resampled by image pairs within categories; tables never pooling runs
// of another benchmark file or configuration; every format rendered; the
// SynthVQA tables untouched beside them; the database and CLI end to end.
// Then fine-tunes (report/finetune_table.h) alike: their table's rows and
// t intervals, the SynthVQA tables untouched beside them, every format with
// the loss curves, the database, and `laco compare` pairing their steps.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "evals/benchmark.h"
#include "evals/finetune.h"
#include "evals/measure.h"
#include "harness/print/printer.h"
#include "harness/score/task.h"
#include "methods/registry.h"
#include "report/benchmark_stats.h"
#include "report/benchmark_table.h"
#include "report/compare.h"
#include "report/finetune_table.h"
#include "report/load.h"
#include "report/plots.h"
#include "report/render.h"
#include "report/stats.h"
#include "report/report.h"
#include "report/tables.h"
#include "results/store.h"
#include "tests/report_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

const std::string kDataSha(64, 'd');
const std::string kCheckpointSha(64, 'c');

// A benchmark run's resolved configuration as `laco run --eval benchmark`
// stores it: a depth-4 encoder, `none` after it, the others at 1/4 (block 1), r = 2.
RunSpec benchmark_spec(const std::string& task, const std::string& method, int64_t questions, uint64_t seed = 0,
                       const std::string& origin = "laco", const std::string& data_sha = kDataSha, int64_t limit = 0) {
  RunSpec s;
  s.preset = kBenchmarkPreset;
  s.method = method;
  const bool none = is_reference_method(method);
  s.layer = none ? "1" : "1/4";
  s.depth = 4;
  s.block_k = none ? 4 : 1;
  s.ratio = 2;
  s.grid_in = "4x4";
  s.grid_out = none ? "4x4" : "2x2";
  s.seed = seed;
  s.checkpoint = "/models/ov-tiny";
  s.checkpoint_sha256 = kCheckpointSha;
  const MethodInfo& info = find_method(method);
  if (info.has_weights()) s.init = to_string(info.reference_init);
  BenchmarkSettings b;
  b.task = task;
  b.data = "bench/" + task + ".jsonl";
  b.data_sha256 = data_sha;
  b.limit = limit;
  b.questions = questions;
  b.max_new_tokens = 16;
  b.origin = origin;
  s.settings = b;
  return s;
}

// The run's answers scored by the task's scorer, summarised as the run
// summarises them; native runs have costs (16 visual tokens, TTFT 10, 12, 14, ... ms).
RunRecord answered(const RunSpec& spec, const std::vector<TaskQuestion>& questions,
                   const std::vector<std::string>& answers) {
  RunRecord r;
  r.spec = spec;
  const TaskType& task = find_task(spec.benchmark().task);
  for (size_t i = 0; i < questions.size(); ++i) {
    const QuestionScore s = task.score(questions[i], answers.at(i));
    Response resp;
    resp.id = questions[i].id;
    resp.category = questions[i].category;
    resp.image_id = questions[i].image_id;
    resp.target = questions[i].answers;
    resp.response = answers[i];
    resp.parsed = s.parsed;
    resp.score = s.score;
    resp.fields = s.fields;
    if (!spec.benchmark().imported()) {
      resp.visual_tokens = 16;
      resp.prompt_tokens = 40;
      resp.output_tokens = 2;
      resp.ttft_ms = 10.0 + 2.0 * static_cast<double>(i);
      resp.tpot_ms = 1.0;
    }
    r.responses.push_back(std::move(resp));
  }
  add_benchmark_metrics(r, questions);
  r.provenance.git_commit = "abc1234";
  r.provenance.host = "fixture";
  r.provenance.device = "cpu";
  r.provenance.started_at = "2026-12-01T10:00:00Z";
  r.provenance.finished_at = "2026-12-01T10:01:00Z";
  return r;
}

// GQA (its headline is the mean per-question score): n questions whose answer is "cat".
std::vector<TaskQuestion> gqa_questions(size_t n) {
  std::vector<TaskQuestion> qs;
  for (size_t i = 0; i < n; ++i) {
    TaskQuestion q;
    q.id = fmt::format("q{:02d}", i + 1);
    q.question = "What animal is it?";
    q.answers = {"cat"};
    q.category = "objects";
    q.image_id = fmt::format("img{}", i + 1);
    qs.push_back(q);
  }
  return qs;
}

// "cat" for the questions in `right`, "dog" for the others.
std::vector<std::string> gqa_answers(size_t n, const std::set<size_t>& right) {
  std::vector<std::string> a;
  for (size_t i = 0; i < n; ++i) a.push_back(right.count(i) ? "cat" : "dog");
  return a;
}

std::set<size_t> first(size_t k) {
  std::set<size_t> s;
  for (size_t i = 0; i < k; ++i) s.insert(i);
  return s;
}

// MME: two perception categories of two images with two questions each (yes, then no).
std::vector<TaskQuestion> mme_questions() {
  std::vector<TaskQuestion> qs;
  int id = 0;
  for (const char* category : {"existence", "count"})
    for (int image = 0; image < 2; ++image)
      for (const char* answer : {"Yes", "No"}) {
        TaskQuestion q;
        q.id = fmt::format("q{}", ++id);
        q.question = "Is it so? Please answer yes or no.";
        q.answers = {answer};
        q.category = category;
        q.image_id = fmt::format("{}-{}", category, image);
        qs.push_back(q);
      }
  return qs;
}

std::shared_ptr<BenchmarkEvidence> evidence(const std::vector<RunRecord>& seeds, const std::string& metric) {
  auto e = std::make_shared<BenchmarkEvidence>();
  e->task = seeds.front().spec.benchmark().task;
  e->metric = metric;
  for (const auto& r : seeds) e->seeds[r.spec.seed] = r.responses;
  return e;
}

Table only_table(const std::vector<Table>& tables) {
  if (tables.size() != 1) throw std::runtime_error(fmt::format("{} tables, not 1", tables.size()));
  return tables.front();
}

size_t column(const Table& t, const std::string& header) {
  for (size_t i = 0; i < t.columns.size(); ++i)
    if (t.columns[i].header == header) return i;
  throw std::runtime_error("no column " + header);
}

size_t row(const Table& t, const std::string& method) {
  for (size_t i = 0; i < t.rows.size(); ++i)
    if (t.rows[i][0].label == method) return i;
  throw std::runtime_error("no row " + method);
}

std::string cell(const Table& t, const std::string& method, const std::string& header) {
  const size_t c = column(t, header);
  return format_cell(t.rows[row(t, method)][c], t.columns[c]);
}

std::string all_notes(const Table& t) {
  std::string s;
  for (const auto& n : t.notes) s += n + "\n";
  return s;
}

// none answers 3 of 4 right, laco 2 (it misses q2 too), both say "dog" to q3.
struct HandCase {
  std::vector<TaskQuestion> questions = gqa_questions(4);
  RunRecord none = answered(benchmark_spec("gqa", "none", 4), questions, {"cat", "cat", "dog", "cat"});
  RunRecord laco = answered(benchmark_spec("gqa", "laco", 4), questions, {"cat", "dog", "dog", "cat"});
};

TEST(ReportBenchmarkStats, MeanDifferenceAndUnchangedShareWorkedOutByHand) {
  const HandCase h;
  const TaskType& gqa = find_task("gqa");
  EXPECT_EQ(benchmark_headline_metric(gqa), "score") << "GQA leads with its mean score";
  EXPECT_DOUBLE_EQ(benchmark_value(gqa, "score", h.none.responses), 75.0);
  EXPECT_DOUBLE_EQ(benchmark_value(gqa, "score", h.laco.responses), 50.0);
  EXPECT_DOUBLE_EQ(benchmark_value(gqa, "task_exact_match", h.laco.responses), 0.5);
  EXPECT_TRUE(reproduces(h.laco, "score"));
  EXPECT_TRUE(reproduces(h.laco, "task_exact_match"));
  test::expect_error([&] { benchmark_value(gqa, "task_nope", h.laco.responses); }, {"no 'nope' (task_nope)", "exact_match"});

  const auto none = evidence({h.none}, "score"), laco = evidence({h.laco}, "score");
  // laco - none per question: 0, -1, 0, 0. A resample of 4 questions draws q2 k ~ Bin(4, 1/4) times and
  // differs by -25 k: P(k = 0) = 31.6% (the upper 2.5% is 0), P(k >= 3) = 13/256 = 5.1% and P(k = 4) = 0.4%
  // (the lower 2.5% is -75). No resample can make laco better: the same questions are drawn for both.
  const Stat d = benchmark_difference(*laco, *none);
  EXPECT_EQ(d.n, 1);
  EXPECT_DOUBLE_EQ(d.mean, -25.0);
  ASSERT_TRUE(d.ci);
  EXPECT_DOUBLE_EQ(d.ci->lo, -75.0);
  EXPECT_DOUBLE_EQ(d.ci->hi, 0.0);
  const AnswerAgreement a = answer_agreement(*laco, *none);
  EXPECT_EQ(a.same, 3) << "q1, q3 (both 'dog') and q4";
  EXPECT_EQ(a.paired, 4);
  EXPECT_EQ(a.seeds, 1);

  // laco alone: k right of 4 resampled, k ~ Bin(4, 1/2): P(k = 0) = P(k = 4) = 6.25%: [0, 100].
  const Stat s = benchmark_stat(laco);
  EXPECT_DOUBLE_EQ(s.mean, 50.0);
  ASSERT_TRUE(s.ci);
  EXPECT_DOUBLE_EQ(s.ci->lo, 0.0);
  EXPECT_DOUBLE_EQ(s.ci->hi, 100.0);
  ASSERT_TRUE(s.evidence && s.evidence->benchmark);
  const Difference test = s.evidence->test(*benchmark_stat(none).evidence);
  EXPECT_EQ(test.test, Difference::Test::kPairedBootstrap);
  EXPECT_FALSE(test.significant) << "[-75, 0] holds 0";
}

TEST(ReportBenchmarkStats, IntervalsHoldTheirPointAndRegenerateAlike) {
  const auto qs = gqa_questions(30);
  std::vector<RunRecord> seeds;
  for (uint64_t seed : {0, 1, 2})
    seeds.push_back(answered(benchmark_spec("gqa", "laco", 30, seed), qs, gqa_answers(30, first(15 + 5 * seed))));
  const auto e = evidence(seeds, "score");
  const Stat a = benchmark_stat(e), b = benchmark_stat(e);
  EXPECT_EQ(a.n, 3);
  EXPECT_NEAR(a.mean, (50.0 + 200.0 / 3 + 250.0 / 3) / 3, 1e-12) << "15, 20 and 25 of 30 right";
  ASSERT_TRUE(a.ci && b.ci);
  EXPECT_LE(a.ci->lo, a.mean);
  EXPECT_GE(a.ci->hi, a.mean);
  EXPECT_LT(a.ci->lo, a.ci->hi);
  EXPECT_EQ(a.ci->lo, b.ci->lo) << "a fixed generator: the same runs give the same interval";
  EXPECT_EQ(a.ci->hi, b.ci->hi);
  const Interval one = benchmark_interval(find_task("gqa"), "score", {seeds[1].responses});
  EXPECT_LE(one.lo, 200.0 / 3);
  EXPECT_GE(one.hi, 200.0 / 3);

  // Another run of the same seeds and questions: its paired difference is the difference of the two runs'
  // resamples (every interval draws the same ones), the same interval as the explicit paired bootstrap.
  std::vector<RunRecord> other;
  for (uint64_t seed : {0, 1, 2})
    other.push_back(answered(benchmark_spec("gqa", "none", 30, seed), qs, gqa_answers(30, first(20 + 2 * seed))));
  const auto o = evidence(other, "score");
  const Stat unpaired = benchmark_difference(*e, *o);  // before o's resamples are kept: drawn again, paired
  benchmark_stat(o);
  const Stat fast = benchmark_difference(*e, *o);
  std::vector<PairedResponses> pairs;
  for (size_t i = 0; i < 3; ++i) pairs.push_back(pair_responses(find_task("gqa"), seeds[i].responses, other[i].responses));
  const Interval explicit_pairs = paired_benchmark_interval(find_task("gqa"), "score", pairs);
  for (const Stat* d : {&unpaired, &fast}) {
    EXPECT_EQ(d->n, 3);
    EXPECT_NEAR(d->mean, (50.0 + 200.0 / 3 + 250.0 / 3 - (200.0 / 3 + 220.0 / 3 + 240.0 / 3)) / 3, 1e-9);
    ASSERT_TRUE(d->ci);
    EXPECT_NEAR(d->ci->lo, explicit_pairs.lo, 1e-9);
    EXPECT_NEAR(d->ci->hi, explicit_pairs.hi, 1e-9);
  }
}

TEST(ReportBenchmarkStats, MmeResamplesImagesWithBothQuestionsWithinCategories) {
  const auto qs = mme_questions();
  // existence-0 both right, existence-1 only its "yes", count-0 both wrong, count-1 both right.
  const RunRecord run = answered(benchmark_spec("mme", "none", 8), qs, {"Yes", "No", "Yes", "Yes", "No", "Yes", "Yes", "No"});
  const TaskType& mme = find_task("mme");
  ASSERT_TRUE(mme.resample_images);
  const std::string metric = benchmark_headline_metric(mme);
  EXPECT_EQ(metric, "task_mme_perception_score");
  // Per category the mean over images of acc + acc+: existence (200 + 50) / 2, count (0 + 200) / 2.
  EXPECT_DOUBLE_EQ(benchmark_value(mme, metric, run.responses), 225.0);
  EXPECT_TRUE(reproduces(run, metric)) << "the stored task_mme_perception_score is given back";

  const auto units = resampling_units(mme, run.responses);
  const std::vector<std::vector<std::vector<size_t>>> want = {{{0, 1}, {2, 3}}, {{4, 5}, {6, 7}}};
  EXPECT_EQ(units, want) << "strata are categories, units are images with both their questions";

  // Each category draws 2 of its images: existence 200, 125 or 50 (p 1/4, 1/2, 1/4), count 0, 100 or 200
  // alike; the sum is 50 and 400 with p 1/16 each (above 2.5%): [50, 400]. Every resample is computable:
  // an image drawn twice is two images to MME's aggregate, and no pair is split.
  const Interval images = benchmark_interval(mme, metric, {run.responses});
  EXPECT_DOUBLE_EQ(images.lo, 50.0);
  EXPECT_DOUBLE_EQ(images.hi, 400.0);
  const Stat s = benchmark_stat(evidence({run}, metric));
  EXPECT_DOUBLE_EQ(s.mean, 225.0);
  EXPECT_LE(s.ci->lo, 225.0);
  EXPECT_GE(s.ci->hi, 225.0);

  // Questions as the unit would split pairs, which MME's aggregate refuses (as lmms-eval asserts).
  TaskType by_question = mme;
  by_question.resample_images = false;
  test::expect_error([&] { benchmark_interval(by_question, metric, {run.responses}); }, {"MME scores pairs"});
  // The mean score (5 of 8 right) resamples either way, and differently: an image's two answers move
  // together. By images: 8 of 8 right needs existence-0 and count-1 twice each, p 1/16 (> 2.5%): 100.
  // By questions: X ~ Bin(4, 3/4) of existence's and Y ~ Bin(4, 1/2) of count's; P(X + Y = 8) = 2.0% and
  // P(X + Y >= 7) = 12.5%: 87.5. Both have 25 at the bottom (p 1/16; P(X + Y <= 2) = 3.0%).
  const Interval score_images = benchmark_interval(mme, "score", {run.responses});
  const Interval score_questions = benchmark_interval(by_question, "score", {run.responses});
  EXPECT_DOUBLE_EQ(score_images.lo, 25.0);
  EXPECT_DOUBLE_EQ(score_images.hi, 100.0);
  EXPECT_DOUBLE_EQ(score_questions.lo, 25.0);
  EXPECT_DOUBLE_EQ(score_questions.hi, 87.5);

  // Paired: an image either run lacks a question of is left out whole.
  std::vector<Response> partial = run.responses;
  partial.erase(partial.begin() + 1);  // existence-0's "no" question
  const PairedResponses p = pair_responses(mme, run.responses, partial);
  ASSERT_EQ(p.a.size(), 6u);
  EXPECT_EQ(p.a.front().id, "q3");
  for (size_t i = 0; i < p.a.size(); ++i) EXPECT_EQ(p.a[i].id, p.b[i].id);
}

// 20 GQA questions: none answers all, laco 18 (misses the last two), pixel_shuffle 8.
std::vector<RunRecord> three_methods(const std::string& data_sha = kDataSha, int64_t limit = 0) {
  const auto qs = gqa_questions(20);
  return {answered(benchmark_spec("gqa", "none", 20, 0, "laco", data_sha, limit), qs, gqa_answers(20, first(20))),
          answered(benchmark_spec("gqa", "laco", 20, 0, "laco", data_sha, limit), qs, gqa_answers(20, first(18))),
          answered(benchmark_spec("gqa", "pixel_shuffle", 20, 0, "laco", data_sha, limit), qs, gqa_answers(20, first(8)))};
}

TEST(ReportBenchmarkTable, RowsValuesBoldAndNotes) {
  const auto runs = three_methods();
  const Table t = only_table(benchmark_tables(runs));
  EXPECT_EQ(t.name, "benchmark_gqa_dddddddd_cccccccc");
  EXPECT_EQ(t.family, "benchmark");
  EXPECT_EQ(t.title, "Benchmark gqa: gqa.jsonl (20 questions), checkpoint ov-tiny");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0].label, "none") << "none first, then registry order";
  EXPECT_TRUE(t.reference[0]);
  EXPECT_EQ(cell(t, "none", "placement"), "-");
  EXPECT_EQ(cell(t, "laco", "placement"), "1/4 (k=1)");
  EXPECT_EQ(cell(t, "laco", "r"), "2");
  EXPECT_EQ(cell(t, "none", "score"), "100.0 [100.0, 100.0]");
  EXPECT_EQ(cell(t, "none", "vs none"), "-");
  EXPECT_EQ(cell(t, "laco", "score").substr(0, 5), "90.0 ");
  EXPECT_EQ(cell(t, "pixel_shuffle", "score").substr(0, 5), "40.0 ");
  // laco - none: -2 of 20 questions on every resample that draws them; its interval holds -10.
  const Cell& diff = t.rows[row(t, "laco")][column(t, "vs none")];
  EXPECT_EQ(diff.kind, CellKind::kDifference);
  EXPECT_DOUBLE_EQ(diff.stat.mean, -10.0);
  EXPECT_LE(diff.stat.ci->lo, -10.0);
  EXPECT_LE(diff.stat.ci->hi, 0.0) << "paired: laco is never right where none is wrong";
  EXPECT_EQ(cell(t, "pixel_shuffle", "vs none").substr(0, 6), "-60.0 ");
  EXPECT_EQ(cell(t, "laco", "unchanged vs none"), "90.0") << "18 of 20 parsed answers as none's";
  EXPECT_EQ(cell(t, "pixel_shuffle", "unchanged vs none"), "40.0");
  EXPECT_EQ(cell(t, "laco", "paired"), "20");
  EXPECT_EQ(cell(t, "laco", "visual tokens"), "16.0");
  // TTFT 10, 12, ..., 48 ms: the median (28 + 30) / 2, p90 44 + 0.1 x 2 (linear, as the run's metric).
  EXPECT_EQ(cell(t, "laco", "TTFT p50"), "29");
  EXPECT_EQ(cell(t, "laco", "TTFT p90"), "44");
  EXPECT_EQ(cell(t, "laco", "questions"), "20");
  EXPECT_EQ(cell(t, "laco", "seeds"), "1");
  // Bold: laco is best; pixel_shuffle is 50 points below on the same questions, beyond the noise; none is not ranked.
  const size_t score = column(t, "score");
  EXPECT_TRUE(t.rows[row(t, "laco")][score].bold);
  EXPECT_FALSE(t.rows[row(t, "pixel_shuffle")][score].bold);
  EXPECT_FALSE(t.rows[row(t, "none")][score].bold);
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (c != score) {
      EXPECT_FALSE(t.rows[row(t, "laco")][c].bold) << t.columns[c].header << " is not ranked";
    }
  const std::string notes = all_notes(t);
  for (const std::string& fragment :
       {std::string("Task `gqa` scored as lmms-eval scores it"), std::string("SHA-256 dddddddddddd"),
        std::string("all 20 questions"), std::string("2000 resamples"), std::string("stratified by category"),
        std::string("95% paired bootstrap interval"), std::string("the same resampled questions applied to both"),
        "base: `none` (run " + runs[0].spec.key() + "; seed 0)", std::string("TTFT is not ranked"),
        std::string("questions per run 20"), std::string("abc1234"),
        std::string("Bold: the best value and every value not significantly different")})
    EXPECT_NE(notes.find(fragment), std::string::npos) << fragment << "\n" << notes;
}

TEST(ReportBenchmarkTable, SeedsArePooledAndPairedOnTheSameSeed) {
  const auto qs = gqa_questions(4);
  std::vector<RunRecord> runs;
  for (uint64_t seed : {0, 1}) {
    runs.push_back(answered(benchmark_spec("gqa", "none", 4, seed), qs, {"cat", "cat", "dog", "cat"}));
    runs.push_back(answered(benchmark_spec("gqa", "laco", 4, seed), qs,
                            seed == 0 ? std::vector<std::string>{"cat", "dog", "dog", "cat"}
                                      : std::vector<std::string>{"cat", "cat", "dog", "cat"}));
  }
  const Table t = only_table(benchmark_tables(runs));
  const Cell& laco = t.rows[row(t, "laco")][column(t, "score")];
  EXPECT_EQ(laco.stat.n, 2);
  EXPECT_DOUBLE_EQ(laco.stat.mean, 62.5) << "(50 + 75) / 2";
  const Cell& diff = t.rows[row(t, "laco")][column(t, "vs none")];
  EXPECT_EQ(diff.stat.n, 2);
  EXPECT_DOUBLE_EQ(diff.stat.mean, -12.5) << "(-25 + 0) / 2, each seed against none's same seed";
  EXPECT_EQ(cell(t, "laco", "unchanged vs none"), "87.5") << "7 of 8 paired questions";
  EXPECT_EQ(cell(t, "laco", "paired"), "8");
  EXPECT_EQ(cell(t, "laco", "seeds"), "2");
}

TEST(ReportBenchmarkTable, AnotherFileOrLimitIsAnotherTable) {
  auto runs = three_methods();
  for (auto& r : three_methods(std::string(64, 'e'))) runs.push_back(r);
  for (auto& r : three_methods(kDataSha, 20)) runs.push_back(r);
  const auto tables = benchmark_tables(runs);
  ASSERT_EQ(tables.size(), 3u) << "never pooled: each benchmark file and limit has its table";
  std::set<std::string> names;
  for (const auto& t : tables) {
    names.insert(t.name);
    EXPECT_EQ(t.rows.size(), 3u) << t.name;
    EXPECT_EQ(t.rows[row(t, "laco")][column(t, "score")].stat.n, 1) << t.name << ": one seed, not three runs";
  }
  EXPECT_EQ(names, (std::set<std::string>{"benchmark_gqa_dddddddd_cccccccc", "benchmark_gqa_dddddddd_cccccccc_limit20",
                                          "benchmark_gqa_eeeeeeee_cccccccc"}));
  // Another checkpoint is another table too.
  runs = three_methods();
  RunRecord other = runs[1];
  other.spec.checkpoint_sha256 = std::string(64, 'f');
  runs.push_back(other);
  EXPECT_EQ(benchmark_tables(runs).size(), 2u);
}

TEST(ReportBenchmarkTable, RunsThatDifferBeyondTheSeedAreRefused) {
  auto runs = three_methods();
  std::get<BenchmarkSettings>(runs[1].spec.settings).max_new_tokens = 32;
  test::expect_error([&] { benchmark_tables(runs); },
                     {"differ in more than the method, placement, ratio and seed", "max_new_tokens (16, 32)",
                      "--where max_new_tokens=VALUE"});
  runs = three_methods();
  runs[2].spec.threads = 4;
  test::expect_error([&] { benchmark_tables(runs); }, {"threads (2, 4)"});
  // The file's path is not what it is: its digest is.
  runs = three_methods();
  std::get<BenchmarkSettings>(runs[1].spec.settings).data = "/elsewhere/gqa.jsonl";
  EXPECT_EQ(only_table(benchmark_tables(runs)).rows.size(), 3u);
}

TEST(ReportBenchmarkTable, ImportedRunsAreRowsOfTheirOwnAgainstTheImportedNone) {
  const auto qs = gqa_questions(20);
  auto runs = three_methods();
  runs.push_back(answered(benchmark_spec("gqa", "none", 20, 0, "lmms-eval"), qs, gqa_answers(20, first(19))));
  runs.push_back(answered(benchmark_spec("gqa", "laco", 20, 0, "lmms-eval"), qs, gqa_answers(20, first(17))));
  const Table t = only_table(benchmark_tables(runs));
  ASSERT_EQ(t.rows.size(), 5u);
  EXPECT_EQ(t.rows[1][0].label, "none (lmms-eval)");
  EXPECT_TRUE(t.reference[1]);
  EXPECT_EQ(cell(t, "laco (lmms-eval)", "score").substr(0, 5), "85.0 ");
  EXPECT_EQ(cell(t, "laco (lmms-eval)", "vs none").substr(0, 5), "-10.0") << "85 - the imported none's 95";
  EXPECT_EQ(cell(t, "laco (lmms-eval)", "unchanged vs none"), "90.0");
  EXPECT_EQ(cell(t, "laco (lmms-eval)", "TTFT p50"), "-") << "lmms-eval stores no costs";
  EXPECT_EQ(cell(t, "laco (lmms-eval)", "visual tokens"), "-");
  EXPECT_EQ(cell(t, "laco", "TTFT p50"), "29");
  EXPECT_EQ(t.keys[row(t, "laco (lmms-eval)")].options, "origin=lmms-eval");
  EXPECT_NE(all_notes(t).find("compared with the imported `none` only"), std::string::npos);
  // The tidy CSV stays unique on (table, method, options, placement, ratio, metric).
  std::set<std::string> seen;
  std::istringstream csv(render_csv_rows(t));
  for (std::string line; std::getline(csv, line);) {
    std::vector<std::string> f(1);  // no field here holds a comma
    for (char ch : line)
      if (ch == ',') f.emplace_back();
      else f.back() += ch;
    ASSERT_GE(f.size(), 7u) << line;
    EXPECT_TRUE(seen.insert(f[1] + "|" + f[2] + "|" + f[3] + "|" + f[5] + "|" + f[6]).second) << line;
  }
}

TEST(ReportBenchmark, RendersInEveryFormatWithItsRows) {
  const auto runs = three_methods();
  ReportRequest r;
  r.out_dir = test::temp_dir("report_benchmark_formats");
  const ReportFiles files = write_report(runs, r);
  const std::string name = "benchmark_gqa_dddddddd_cccccccc";
  for (const std::string& f : {name + ".md", name + ".tex", std::string("report.md"), std::string("report.tex"),
                               std::string("report.csv"), std::string("report.html")})
    EXPECT_TRUE(fs::exists(r.out_dir + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(r.out_dir + "/methods.md")) << "no SynthVQA table in a report of benchmark runs alone";
  EXPECT_FALSE(fs::exists(r.out_dir + "/plot1.svg"));
  const std::string md = test::read_file(r.out_dir + "/" + name + ".md");
  EXPECT_NE(md.find("### Benchmark gqa: gqa.jsonl (20 questions), checkpoint ov-tiny"), std::string::npos) << md;
  EXPECT_NE(md.find("| **90.0 ["), std::string::npos) << "laco's score in bold\n" << md;
  EXPECT_NE(md.find("| pixel_shuffle | 1/4 (k=1) | 2 | 40.0 ["), std::string::npos) << md;
  EXPECT_EQ(files.printed, test::read_file(r.out_dir + "/report.md"));
  const std::string tex = test::read_file(r.out_dir + "/" + name + ".tex");
  EXPECT_NE(tex.find("\\label{tab:" + name + "}"), std::string::npos);
  EXPECT_NE(tex.find("pixel\\_shuffle & 1/4 (k=1) & 2 & 40.0 ["), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\textbf{90.0 ["), std::string::npos) << tex;
  const std::string csv = test::read_file(r.out_dir + "/report.csv");
  EXPECT_NE(csv.find(name + ",laco,,1/4,1,2,score,%,90,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(name + ",laco,,1/4,1,2,score_vs_none,points,-10,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(name + ",laco,,1/4,1,2,unchanged_vs_none,%,90,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(name + ",none,,,,,score,%,100,100,100,"), std::string::npos) << csv;
  const std::string html = test::read_file(r.out_dir + "/report.html");
  EXPECT_NE(html.find("<h2 id=\"" + name + "\">"), std::string::npos);
  EXPECT_NE(html.find("<td>pixel_shuffle</td>"), std::string::npos);
  EXPECT_NE(html.find("In the benchmark tables a released checkpoint"), std::string::npos);
  EXPECT_EQ(html.find("Accuracy is measured on SynthVQA"), std::string::npos);
  // The printers: every terminal format carries the rows.
  for (const std::string& format : printer_formats()) {
    ReportRequest p = r;
    p.out_dir = test::temp_dir("report_benchmark_print_" + format);
    p.formats = {"md"};
    p.print_format = format;
    const std::string printed = write_report(runs, p).printed;
    for (const char* m : {"none", "laco", "pixel_shuffle"}) EXPECT_NE(printed.find(m), std::string::npos) << format;
    EXPECT_NE(printed.find("90.0"), std::string::npos) << format << "\n" << printed;
  }
  // --table benchmark selects every benchmark table; another name none.
  ReportRequest only = r;
  only.out_dir = test::temp_dir("report_benchmark_only");
  only.tables = {"benchmark"};
  EXPECT_NE(write_report(runs, only).printed.find("### Benchmark gqa"), std::string::npos);
  only.tables = {"methods"};
  EXPECT_EQ(write_report(runs, only).printed.find("### Benchmark"), std::string::npos);
}

TEST(ReportBenchmark, SynthVqaTablesAreUnchangedBesideBenchmarkRuns) {
  std::vector<RunRecord> runs = test::report_fixture_runs();
  const RunIndex alone(runs, {});
  const std::vector<Table> before = build_tables(alone, {});
  for (auto& r : three_methods()) runs.push_back(r);
  const RunIndex index(runs, {});
  EXPECT_EQ(index.efficiency_preset(), "cpu-small") << "benchmark runs are no efficiency preset";
  EXPECT_EQ(index.benchmark_runs().size(), 3u);
  const std::vector<Table> after = build_tables(index, {});
  ASSERT_EQ(after.size(), before.size() + 1);
  EXPECT_EQ(after.front().family, "benchmark") << "the benchmark tables first";
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i + 1].name, before[i].name);
    EXPECT_EQ(render_markdown(after[i + 1]), render_markdown(before[i])) << before[i].name;
  }
  const std::vector<std::string> methods = index.methods();
  EXPECT_EQ(methods, alone.methods());
}

// The runs stored as `laco run --db` stores them.
std::string store_runs(const std::string& dir, const std::vector<RunRecord>& runs) {
  const std::string db = dir + "/laco.db";
  ResultStore store(db, true);
  std::vector<PlannedRun> planned;
  std::vector<std::pair<std::string, RunRecord>> done;
  std::vector<std::string> keys;
  for (const auto& r : runs) {
    planned.push_back({r.spec.key(), r.spec, {}});
    done.emplace_back(r.spec.key(), r);
    keys.push_back(r.spec.key());
  }
  store.register_runs("bench", planned);
  store.claim(keys, "");
  store.record_done(done);
  return db;
}

TEST(ReportBenchmark, StoredRunsLoadWithTheirResponsesAndTheCliReportsThem) {
  const std::string dir = test::temp_dir("report_benchmark_db");
  const auto runs = three_methods();
  const std::string db = store_runs(dir, runs);
  const auto loaded = load_done_runs(db);
  ASSERT_EQ(loaded.size(), 3u);
  for (const auto& r : loaded) {
    const auto want = std::find_if(runs.begin(), runs.end(), [&](const RunRecord& x) { return x.spec.key() == r.spec.key(); });
    ASSERT_NE(want, runs.end());
    EXPECT_EQ(r.responses, want->responses) << r.spec.label();
  }
  EXPECT_EQ(render_markdown(only_table(benchmark_tables(loaded))), render_markdown(only_table(benchmark_tables(runs))))
      << "the database gives the same table";
  auto out = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out");
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("### Benchmark gqa"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("### Compression methods"), std::string::npos) << out.output;
  out = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out --table benchmark -o csv -q");
  ASSERT_EQ(out.status, 0) << out.output;
  out = test::run_command(std::string(LACO_BIN) + " query --db " + db + " --where method=laco");
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("benchmark"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("90.0"), std::string::npos) << "laco's score\n" << out.output;
  EXPECT_NE(out.output.find("score (%)"), std::string::npos) << out.output;
}

TEST(ReportBenchmarkCompare, HeadlineAndScoreArePairedOnTheSameQuestions) {
  const std::string dir = test::temp_dir("report_benchmark_compare");
  const std::string db = dir + "/laco.db";
  const auto qs = mme_questions();
  const RunSpec spec = benchmark_spec("mme", "laco", 8);
  ResultStore store(db, true);
  store.register_runs("bench", {{spec.key(), spec, {}}});
  ASSERT_EQ(store.claim({spec.key()}, ""), std::vector<std::string>{spec.key()});
  RunRecord a = answered(spec, qs, {"Yes", "No", "Yes", "Yes", "No", "Yes", "Yes", "No"});  // 225, 62.5%
  a.provenance.git_commit = "aaaaaaaaaaaa";
  store.record_done({{spec.key(), a}});
  ASSERT_EQ(store.claim({spec.key()}, "", false, true), std::vector<std::string>{spec.key()});
  RunRecord b = answered(spec, qs, {"Yes", "No", "Yes", "No", "No", "Yes", "Yes", "No"});  // existence-1 now right: 300
  b.provenance.git_commit = "bbbbbbbbbbbb";
  b.provenance.finished_at = "2026-12-02T10:00:00Z";
  store.record_done({{spec.key(), b}});

  CompareOptions o;
  o.db = db;
  const Comparison c = compare_measurements(o);
  // The task's headline first, then the registry's headline metrics of benchmark runs.
  ASSERT_EQ(c.rows.size(), 4u);
  EXPECT_EQ(c.rows[0].metric, "task_mme_perception_score");
  EXPECT_EQ(c.rows[1].metric, "score");
  EXPECT_EQ(c.rows[2].metric, "visual_tokens");
  EXPECT_EQ(c.rows[3].metric, "ttft_p50");
  EXPECT_EQ(c.rows[3].difference.test, Difference::Test::kNone) << "a run's TTFT is a value, not tested";
  const ComparedMetric& h = c.rows[0];
  EXPECT_DOUBLE_EQ(h.base.mean, 225.0);
  EXPECT_DOUBLE_EQ(h.new_.mean, 300.0) << "existence (200 + 200) / 2 + count (0 + 200) / 2";
  ASSERT_TRUE(h.base.ci && h.new_.ci);
  EXPECT_EQ(h.difference.test, Difference::Test::kPairedBootstrap);
  // Only existence-1 changed (50 -> 200): a resample adds 150 / 2 per draw of it among existence's two
  // (0, 1, 2 draws with p 1/4, 1/2, 1/4): [0, +150].
  EXPECT_DOUBLE_EQ(h.difference.interval.lo, 0.0);
  EXPECT_DOUBLE_EQ(h.difference.interval.hi, 150.0);
  EXPECT_FALSE(h.difference.significant);
  const ComparedMetric& s = c.rows[1];
  EXPECT_DOUBLE_EQ(s.base.mean, 62.5);
  EXPECT_DOUBLE_EQ(s.new_.mean, 75.0);
  EXPECT_EQ(s.difference.test, Difference::Test::kPairedBootstrap);
  // Its q4 went right: 12.5 points per draw of existence-1.
  EXPECT_DOUBLE_EQ(s.difference.interval.lo, 0.0);
  EXPECT_DOUBLE_EQ(s.difference.interval.hi, 25.0);
  const std::string text = make_printer("md")->print(comparison_table(c, false));
  EXPECT_NE(text.find("paired bootstrap, new - base = 75.0 [0.0, 150.0] points"), std::string::npos) << text;
  std::string notes;
  for (const auto& n : c.notes) notes += n + "\n";
  EXPECT_NE(notes.find("Benchmark runs: `score`"), std::string::npos) << notes;
  // Other metrics of a benchmark run are values without a test.
  o.metrics = {"all"};
  for (const auto& r : compare_measurements(o).rows)
    if (r.metric != "score" && r.metric != "task_mme_perception_score") {
      EXPECT_EQ(r.difference.test, Difference::Test::kNone) << r.metric;
    }
}

// The whole path: `laco run --eval benchmark` with the tiny chat checkpoint
// stores three runs, `laco report` and `laco query` list them.
TEST(ReportBenchmark, RunThenReportAndQueryEndToEnd) {
  const std::string dir = test::temp_dir("report_benchmark_e2e");
  test::mme_file(dir);
  const std::string model = test::chat_checkpoint();
  const std::string db = dir + "/laco.db";
  auto r = test::run_command(fmt::format("cd {} && {} run --eval benchmark --model {} --task mme --data mme.jsonl -m "
                                         "none,laco,pixel_shuffle -l 1/4 --allow-untrained --db {}",
                                         dir, LACO_BIN, model, db));
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("{} report --db {} --out {}/out", LACO_BIN, db, dir));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("### Benchmark mme: mme.jsonl (6 questions)"), std::string::npos) << r.output;
  for (const char* m : {"| none |", "| laco |", "| pixel_shuffle |", "mme_perception_score", "TTFT p50"})
    EXPECT_NE(r.output.find(m), std::string::npos) << m << "\n" << r.output;
  r = test::run_command(fmt::format("{} query --db {}", LACO_BIN, db));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* m : {"none", "laco", "pixel_shuffle", "score (%)", "ttft_p50 (ms)"})
    EXPECT_NE(r.output.find(m), std::string::npos) << m << "\n" << r.output;
}


// ---------------------------------------------------------------------------
// Fine-tunes (`laco train`) in `laco report` and `laco compare`
// (report/finetune_table.h): one table per conversation file, a row per
// fine-tune (seeds of one configuration pooled with a t interval), kept out
// of the SynthVQA tables, their presets and plots; compared at two commits.

const std::string kFinetuneSha(64, 'f');

// A fine-tune as `laco train` records it: `steps` optimizer steps of 2
// conversations on a 40-conversation file, the loss curve `losses` (one per
// step) and the per-step times `seconds`; 100 positions and 30 supervised
// tokens per conversation, unless `positions` says otherwise.
RunRecord finetuned(const std::string& method, uint64_t seed, const std::string& out, const std::vector<double>& losses,
                    const std::vector<double>& seconds, const std::string& data_sha = kFinetuneSha,
                    int64_t positions = 100) {
  RunRecord r;
  RunSpec& s = r.spec;
  s.preset = kFinetunePreset;
  s.method = method;
  const bool none = is_reference_method(method);
  s.layer = none ? "1" : "1/4";
  s.depth = 4;
  s.block_k = none ? 4 : 1;
  s.ratio = 2;
  s.grid_in = "4x4";
  s.grid_out = none ? "4x4" : "2x2";
  s.seed = seed;
  s.threads = 2;
  s.checkpoint = "/models/ov-tiny";
  s.checkpoint_sha256 = kCheckpointSha;
  const MethodInfo& info = find_method(method);
  if (info.has_weights()) s.init = to_string(info.reference_init);
  FinetuneSettings t;
  t.data = "train/convs.jsonl";
  t.data_sha256 = data_sha;
  t.conversations = 40;
  t.stage = 1;
  t.steps = static_cast<int64_t>(losses.size());
  t.accumulation = 2;
  t.lr = 1e-3;
  t.projector_lr = 1e-3;
  t.compressor_lr = 1e-3;
  t.warmup_ratio = 0.03;
  t.max_grad_norm = 1.0;
  t.max_length = 512;
  t.save_every = 100;
  t.out = out;
  s.settings = t;
  const double steps = static_cast<double>(losses.size());
  for (size_t i = 0; i < losses.size(); ++i) {
    r.series["loss"].emplace_back(static_cast<int64_t>(i + 1), losses[i]);
    r.series["grad_norm"].emplace_back(static_cast<int64_t>(i + 1), 1.0);
    r.series["lr_factor"].emplace_back(static_cast<int64_t>(i + 1), 1.0);
  }
  r.samples["step_time"] = seconds;
  const size_t last = std::min<size_t>(10, losses.size());
  double tail = 0;
  for (size_t i = losses.size() - last; i < losses.size(); ++i) tail += losses[i];
  double total = 0;
  for (double x : seconds) total += x;
  r.add("final_loss", tail / static_cast<double>(last), "nats");
  r.add("first_loss", losses.front(), "nats");
  r.add("steps", steps, "steps");
  r.add("conversations_trained", 2 * steps, "conversations");
  r.add("supervised_tokens", 2 * steps * 30, "tokens");
  r.add("positions", 2 * steps * static_cast<double>(positions), "tokens");
  r.add("truncated", 0, "conversations");
  r.add("unsupervised", 0, "conversations");
  r.add("trainable_params", 1000, "params");
  r.add("step_time_p50", median(seconds), "s");
  r.add("tokens_per_s", 2 * steps * static_cast<double>(positions) / total, "tokens/s");
  r.add("train_time", total, "s");
  r.add("peak_rss", 1.5, "GiB");
  r.facts["out"] = out;
  r.provenance.git_commit = "ab12cd3";
  r.provenance.host = "fixture";
  r.provenance.device = "cpu";
  r.provenance.threads = "intra_op=2 blas=2";
  r.provenance.started_at = "2026-12-03T10:00:00Z";
  r.provenance.finished_at = "2026-12-03T10:10:00Z";
  return r;
}

// Two steps of 2.0 and 1.5, then ten of `final`: a final loss of `final`.
std::vector<double> curve(double first, double final) {
  std::vector<double> l = {first, 1.5};
  l.insert(l.end(), 10, final);
  return l;
}

std::vector<double> twelve_steps(double p50) { return std::vector<double>(12, p50); }

// laco at seeds 0 and 1 (final losses 1.0 and 1.2, step times 2.0 and 2.2 s), pixel_shuffle at seed 0 (1.25, 1.8 s).
std::vector<RunRecord> three_finetunes() {
  return {finetuned("laco", 0, "runs/ft-laco-0", curve(2.0, 1.0), twelve_steps(2.0)),
          finetuned("pixel_shuffle", 0, "runs/ft_pixel", curve(2.4, 1.25), twelve_steps(1.8)),
          finetuned("laco", 1, "runs/ft-laco-1", curve(2.2, 1.2), twelve_steps(2.2))};
}

std::string finetune_cell(const Table& t, size_t row, const std::string& header) {
  const size_t c = column(t, header);
  return format_cell(t.rows.at(row)[c], t.columns[c]);
}

TEST(ReportFinetuneTable, OneRowPerFinetuneSeedsPooledWithATInterval) {
  const std::vector<Table> tables = finetune_tables(three_finetunes());
  ASSERT_EQ(tables.size(), 1u);
  const Table& t = tables[0];
  EXPECT_EQ(t.name, "finetune_ffffffff");
  EXPECT_EQ(t.family, "finetune");
  EXPECT_EQ(t.title, "Fine-tunes on convs.jsonl (40 conversations)");
  std::vector<std::string> headers;
  for (const auto& c : t.columns) headers.push_back(c.header);
  EXPECT_EQ(headers, (std::vector<std::string>{"method", "placement", "r", "stage", "steps x accumulation",
                                               "trained", "first loss", "final loss", "step time p50",
                                               "throughput", "peak RSS", "checkpoint", "out", "seeds"}));
  ASSERT_EQ(t.rows.size(), 2u) << "laco's two seeds are one row, pixel_shuffle's run another";
  // Registry order: pixel_shuffle before laco.
  EXPECT_EQ(t.rows[0][0].label, "pixel_shuffle");
  EXPECT_EQ(t.rows[1][0].label, "laco");
  EXPECT_EQ(finetune_cell(t, 0, "placement"), "1/4 (k=1)");
  EXPECT_EQ(finetune_cell(t, 0, "r"), "2");
  EXPECT_EQ(finetune_cell(t, 0, "stage"), "1");
  EXPECT_EQ(finetune_cell(t, 0, "steps x accumulation"), "12 x 2");
  EXPECT_EQ(finetune_cell(t, 0, "trained"), "24");
  EXPECT_EQ(finetune_cell(t, 0, "first loss"), "2.4000");
  EXPECT_EQ(finetune_cell(t, 0, "final loss"), "1.2500") << "one seed: its value, no interval";
  EXPECT_EQ(finetune_cell(t, 0, "step time p50"), "1.80");
  EXPECT_EQ(finetune_cell(t, 0, "throughput"), fmt::format("{:.1f}", 2400.0 / (12 * 1.8)));
  EXPECT_EQ(finetune_cell(t, 0, "peak RSS"), "1.50");
  EXPECT_EQ(finetune_cell(t, 0, "checkpoint"), "cccccccc");
  EXPECT_EQ(finetune_cell(t, 0, "out"), "runs/ft_pixel");
  EXPECT_EQ(finetune_cell(t, 0, "seeds"), "1");
  // laco: mean 1.1, s = 0.1414; t(0.975, 1) = 12.706: 1.1 -+ 12.706 x 0.1414 / sqrt(2) = 1.1 -+ 1.2706.
  EXPECT_EQ(finetune_cell(t, 1, "final loss"), "1.1000 [-0.1706, 2.3706]");
  EXPECT_EQ(finetune_cell(t, 1, "first loss"), "2.1000 [0.8294, 3.3706]");
  EXPECT_EQ(finetune_cell(t, 1, "step time p50"), "2.10 [0.83, 3.37]");
  EXPECT_EQ(finetune_cell(t, 1, "trained"), "24") << "fixed by the configuration: no spread";
  EXPECT_EQ(finetune_cell(t, 1, "out"), "runs/ft-laco-0, runs/ft-laco-1");
  EXPECT_EQ(finetune_cell(t, 1, "seeds"), "2");
  const Cell& final_loss = t.rows[1][column(t, "final loss")];
  EXPECT_EQ(final_loss.stat.n, 2);
  ASSERT_TRUE(final_loss.stat.ci);
  EXPECT_NEAR(final_loss.stat.ci->lo, 1.1 - 12.706204736 * 0.1, 1e-9);
  EXPECT_DOUBLE_EQ(final_loss.stat.ci->coverage, 0.95);
  for (const auto& row : t.rows)
    for (const auto& cell : row) EXPECT_FALSE(cell.bold) << "fine-tunes are not ranked";
  std::string notes;
  for (const auto& n : t.notes) notes += n + "\n";
  for (const char* part : {"`train/convs.jsonl` (SHA-256 ffffffffffff, 40 conversations)",
                           "training losses on different data are not comparable",
                           "final loss: the mean training loss of the last 10 optimizer steps",
                           "95% t interval over the seeds, n - 1 degrees of freedom", "cccccccc = `/models/ov-tiny`",
                           "Threads: 2 (`intra_op=2 blas=2`)", "n: seeds per row 1 to 2", "git commit(s): ab12cd3"})
    EXPECT_NE(notes.find(part), std::string::npos) << part << "\n" << notes;
  EXPECT_EQ(notes.find("Cut at max_length"), std::string::npos) << "nothing was cut";

  // The t quantile: the table, and the expansion past 30 degrees of freedom.
  EXPECT_DOUBLE_EQ(t_quantile_975(1), 12.706204736);
  EXPECT_DOUBLE_EQ(t_quantile_975(30), 2.042272456);
  EXPECT_NEAR(t_quantile_975(40), 2.021075390, 2e-6);
  EXPECT_NEAR(t_quantile_975(1000), 1.962339081, 1e-8);
  EXPECT_EQ(t_interval({1.0}).coverage, 0.0) << "one value: no interval";
}

TEST(ReportFinetuneTable, AnotherFileIsAnotherTableAndRunsAreNeverPooledBeyondTheSeed) {
  auto runs = three_finetunes();
  runs.push_back(finetuned("laco", 0, "runs/other", curve(3.0, 2.0), twelve_steps(2.0), std::string(64, 'e')));
  const auto tables = finetune_tables(runs);
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].name, "finetune_eeeeeeee");
  EXPECT_EQ(tables[0].rows.size(), 1u);
  EXPECT_EQ(tables[1].name, "finetune_ffffffff");
  test::expect_error([&] { finetune_table(runs); }, {"another conversation file", "not comparable"});
  test::expect_error([&] { finetune_table({test::report_fixture_runs().front()}); }, {"not a fine-tune"});

  // Another learning rate: its own row, and a note names what the rows differ in.
  auto lr = three_finetunes();
  RunRecord faster = lr[0];
  std::get<FinetuneSettings>(faster.spec.settings).lr = 2e-3;
  std::get<FinetuneSettings>(faster.spec.settings).out = "runs/ft-laco-lr";
  lr.push_back(faster);
  const Table t = finetune_table(lr);
  ASSERT_EQ(t.rows.size(), 3u);
  std::string notes;
  for (const auto& n : t.notes) notes += n + "\n";
  EXPECT_NE(notes.find("Settings the rows differ in beyond their columns: lr (0.001, 0.002)"), std::string::npos)
      << notes;

  // A seed fine-tuned twice (another out folder): two rows, not two seeds.
  auto twice = three_finetunes();
  RunRecord again = twice[0];
  std::get<FinetuneSettings>(again.spec.settings).out = "runs/ft-laco-0-again";
  twice.push_back(again);
  const Table t2 = finetune_table(twice);
  EXPECT_EQ(t2.rows.size(), 4u);
  for (size_t r = 0; r < t2.rows.size(); ++r) EXPECT_EQ(finetune_cell(t2, r, "seeds"), "1");
  std::string notes2;
  for (const auto& n : t2.notes) notes2 += n + "\n";
  EXPECT_NE(notes2.find("A seed fine-tuned twice"), std::string::npos) << notes2;

  // Conversations cut at max_length are counted in a note.
  auto cut = three_finetunes();
  for (auto& r : cut)
    for (auto& m : r.metrics)
      if (m.name == "truncated") m.value = 3;
  std::string notes3;
  for (const auto& n : finetune_table(cut).notes) notes3 += n + "\n";
  EXPECT_NE(notes3.find("Cut at max_length: 9 of the 72 conversations trained"), std::string::npos) << notes3;
}

// Before fine-tunes were a table of their own, a database of accuracy runs and
// fine-tunes made `released` the efficiency preset and put the fine-tunes'
// methods, commits and runs into the SynthVQA tables.
TEST(ReportFinetune, SynthVqaTablesPresetsAndPlotsAreUnchangedBesideFinetunes) {
  for (const bool efficiency : {false, true}) {
    std::vector<RunRecord> runs;
    for (const auto& r : test::report_fixture_runs())
      if (efficiency || r.spec.is_accuracy()) runs.push_back(r);
    const RunIndex alone(runs, {});
    const std::vector<Table> before = build_tables(alone, {});
    for (auto& r : three_finetunes()) runs.push_back(r);
    runs.push_back(finetuned("tokenpacker", 0, "runs/ft-tp", curve(2.0, 1.0), twelve_steps(2.0)));
    const RunIndex index(runs, {});
    EXPECT_EQ(index.efficiency_preset(), efficiency ? "cpu-small" : "") << "fine-tunes are no efficiency preset";
    EXPECT_EQ(index.accuracy_preset(), "small");
    EXPECT_EQ(index.finetune_runs().size(), 4u);
    EXPECT_EQ(index.methods(), alone.methods());
    EXPECT_EQ(index.commits(), alone.commits()) << "the fine-tunes' commit is not the SynthVQA tables'";
    EXPECT_EQ(index.sizes(), alone.sizes());
    const std::vector<Table> after = build_tables(index, {});
    ASSERT_EQ(after.size(), before.size() + 1);
    EXPECT_EQ(after.front().family, "finetune") << "the fine-tune table before the SynthVQA tables";
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_EQ(after[i + 1].name, before[i].name);
      EXPECT_EQ(render_markdown(after[i + 1]), render_markdown(before[i])) << before[i].name;
      EXPECT_EQ(render_csv_rows(after[i + 1]), render_csv_rows(before[i])) << before[i].name;
    }
    const auto charts = report_charts(index, {}), plain = report_charts(alone, {});
    ASSERT_EQ(charts.size(), plain.size());
    for (size_t i = 0; i < charts.size(); ++i) EXPECT_EQ(render_svg(charts[i]), render_svg(plain[i]));
  }
  // Fine-tunes alone: their tables, no SynthVQA table, no SynthVQA plot.
  const RunIndex only(three_finetunes(), {});
  EXPECT_FALSE(only.reports_synthvqa());
  const auto tables = build_tables(only, {});
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_EQ(tables[0].name, "finetune_ffffffff");
  ReportRequest r;
  r.out_dir = test::temp_dir("report_finetune_alone");
  write_report(three_finetunes(), r);
  EXPECT_FALSE(fs::exists(r.out_dir + "/methods.md"));
  EXPECT_FALSE(fs::exists(r.out_dir + "/plot1.svg"));
  EXPECT_TRUE(fs::exists(r.out_dir + "/finetune_ffffffff_loss.svg"));
  const std::string html = test::read_file(r.out_dir + "/report.html");
  EXPECT_EQ(html.find("Accuracy is measured on SynthVQA"), std::string::npos);
  EXPECT_NE(html.find("In the fine-tune tables a released checkpoint is fine-tuned"), std::string::npos);
}

TEST(ReportFinetune, RendersInEveryFormatWithItsLossCurves) {
  std::vector<RunRecord> runs = test::report_fixture_runs();
  for (auto& f : three_finetunes()) runs.push_back(f);
  ReportRequest r;
  r.out_dir = test::temp_dir("report_finetune_formats");
  const ReportFiles files = write_report(runs, r);
  const std::string name = "finetune_ffffffff";
  for (const std::string& f : {name + ".md", name + ".tex", name + "_loss.svg", std::string("methods.md"),
                               std::string("plot1.svg"), std::string("report.csv"), std::string("report.html")})
    EXPECT_TRUE(fs::exists(r.out_dir + "/" + f)) << f;
  const std::string md = test::read_file(r.out_dir + "/" + name + ".md");
  EXPECT_NE(md.find("### Fine-tunes on convs.jsonl (40 conversations)"), std::string::npos) << md;
  EXPECT_NE(md.find("| laco | 1/4 (k=1) | 2 | 1 | 12 x 2 | 24 | 2.1000 [0.8294, 3.3706] | 1.1000 [-0.1706, 2.3706] | "
                    "2.10 [0.83, 3.37] |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| cccccccc | runs/ft-laco-0, runs/ft-laco-1 | 2 |"), std::string::npos) << md;
  EXPECT_NE(files.printed.find(md), std::string::npos) << "printed with the other tables";
  const std::string tex = test::read_file(r.out_dir + "/" + name + ".tex");
  EXPECT_NE(tex.find("\\label{tab:" + name + "}"), std::string::npos);
  EXPECT_NE(tex.find("pixel\\_shuffle & 1/4 (k=1) & 2 & 1 & 12 x 2 & 24 & 2.4000 & 1.2500 & 1.80"), std::string::npos)
      << tex;
  EXPECT_NE(tex.find("runs/ft\\_pixel"), std::string::npos) << tex;
  EXPECT_NE(test::read_file(r.out_dir + "/report.tex").find("\\label{tab:" + name + "}"), std::string::npos);
  const std::string csv = test::read_file(r.out_dir + "/report.csv");
  EXPECT_NE(csv.find(name + ",laco,\"stage=1,steps=12,accumulation=2,checkpoint=cccccccc,out=runs/ft-laco-0|runs/"
                            "ft-laco-1\",1/4,1,2,final_loss,nats,1.1,-0.17062,2.37062,0.95,0.141421,2,0,,0\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find(name + ",pixel_shuffle,\"stage=1,steps=12,accumulation=2,checkpoint=cccccccc,out=runs/"
                            "ft_pixel\",1/4,1,2,peak_rss,GiB,1.5,,,,,1,0,,0\n"),
            std::string::npos)
      << csv;
  // The HTML page: the table, then its loss curves (one line per run, no marker per step), then the SynthVQA tables.
  const std::string html = test::read_file(r.out_dir + "/report.html");
  const size_t table = html.find("<h2 id=\"" + name + "\">");
  const size_t chart = html.find("<title>Training loss on convs.jsonl</title>");
  ASSERT_NE(table, std::string::npos);
  ASSERT_NE(chart, std::string::npos);
  EXPECT_LT(table, chart);
  EXPECT_LT(chart, html.find("<h2 id=\"methods\">"));
  const std::string svg = test::read_file(r.out_dir + "/" + name + "_loss.svg");
  EXPECT_NE(html.find(svg), std::string::npos) << "the file is the page's chart";
  size_t lines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++lines;
  EXPECT_EQ(lines, 3u) << svg;
  EXPECT_EQ(svg.find("<circle"), std::string::npos) << "no marker per step";
  for (const char* legend : {">pixel_shuffle 1/4 r=2</text>", ">laco 1/4 r=2 seed 0</text>", ">laco 1/4 r=2 seed 1</text>",
                             ">optimizer step</text>", ">training loss (nats)</text>"})
    EXPECT_NE(svg.find(legend), std::string::npos) << legend << "\n" << svg;
  // --table finetune selects the fine-tune tables alone.
  ReportRequest only = r;
  only.out_dir = test::temp_dir("report_finetune_only");
  only.tables = {"finetune"};
  const std::string printed = write_report(runs, only).printed;
  EXPECT_NE(printed.find("### Fine-tunes on"), std::string::npos);
  EXPECT_EQ(printed.find("### Compression methods"), std::string::npos);
  // The LaTeX report with the fine-tune table compiles.
  if (test::run_command("command -v pdflatex").status == 0) {
    const auto c = test::run_command("cd " + r.out_dir + " && pdflatex -interaction=nonstopmode -halt-on-error report.tex");
    EXPECT_EQ(c.status, 0) << c.output.substr(c.output.size() > 3000 ? c.output.size() - 3000 : 0);
  }
}

TEST(ReportFinetune, StoredFinetunesLoadWithTheirLossCurvesAndTheCliReportsThem) {
  const std::string dir = test::temp_dir("report_finetune_db");
  auto runs = three_finetunes();
  runs[0].series["loss"][3].second = std::nan("");  // stored as NULL, read back as NaN, left out of the plot
  const std::string db = store_runs(dir, runs);
  const auto loaded = load_done_runs(db);
  ASSERT_EQ(loaded.size(), 3u);
  for (const auto& r : loaded) {
    const auto want = std::find_if(runs.begin(), runs.end(), [&](const RunRecord& x) { return x.spec.key() == r.spec.key(); });
    ASSERT_NE(want, runs.end());
    ASSERT_EQ(r.series.count("loss"), 1u) << r.spec.label();
    ASSERT_EQ(r.series.at("loss").size(), want->series.at("loss").size());
    for (size_t i = 0; i < r.series.at("loss").size(); ++i) {
      const double a = r.series.at("loss")[i].second, b = want->series.at("loss")[i].second;
      EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b))) << i;
    }
    EXPECT_EQ(r.samples.at("step_time"), want->samples.at("step_time"));
  }
  EXPECT_EQ(render_markdown(finetune_tables(loaded).at(0)), render_markdown(finetune_tables(runs).at(0)))
      << "the database gives the same table";
  const auto charts = finetune_loss_charts(loaded);
  ASSERT_EQ(charts.size(), 1u);
  EXPECT_EQ(render_svg(charts[0].second), render_svg(finetune_loss_charts(runs).at(0).second));
  size_t points = 0;
  for (const auto& s : charts[0].second.series) points += s.points.size();
  EXPECT_EQ(points, 35u) << "3 runs x 12 steps, the NaN left out";
  auto out = test::run_command(std::string(LACO_BIN) + " report --db " + db + " --out " + dir + "/out");
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("### Fine-tunes on convs.jsonl"), std::string::npos) << out.output;
  EXPECT_EQ(out.output.find("### Compression methods"), std::string::npos) << out.output;
  EXPECT_TRUE(fs::exists(dir + "/out/finetune_ffffffff_loss.svg"));
}

TEST(ReportFinetuneCompare, FinalLossIsAValueAndStepTimesPairByStep) {
  const std::string dir = test::temp_dir("report_finetune_compare");
  const std::string db = dir + "/laco.db";
  // Run a trains the same steps at both commits; run b's second measurement took other positions (unpaired).
  const std::vector<double> base = {1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7};
  std::vector<double> slower;
  for (size_t i = 0; i < base.size(); ++i) slower.push_back(base[i] * (1.10 + 0.01 * static_cast<double>(i)));
  const std::vector<double> losses = {2.0, 1.9, 1.8, 1.7, 1.6, 1.5, 1.4, 1.3};
  RunRecord a0 = finetuned("laco", 0, "runs/a", losses, base), b0 = finetuned("laco", 1, "runs/b", losses, base);
  ResultStore store(db, true);
  store.register_runs("ft", {{a0.spec.key(), a0.spec, {}}, {b0.spec.key(), b0.spec, {}}});
  ASSERT_EQ(store.claim({a0.spec.key(), b0.spec.key()}, "").size(), 2u);
  a0.provenance.git_commit = b0.provenance.git_commit = "aaaaaaaaaaaa";
  store.record_done({{a0.spec.key(), a0}, {b0.spec.key(), b0}});
  ASSERT_EQ(store.claim({a0.spec.key(), b0.spec.key()}, "", false, true).size(), 2u);
  std::vector<double> lower = losses;
  lower.back() = 1.2;
  RunRecord a1 = finetuned("laco", 0, "runs/a", lower, slower);
  RunRecord b1 = finetuned("laco", 1, "runs/b", lower, slower, kFinetuneSha, 101);
  for (RunRecord* r : {&a1, &b1}) {
    r->provenance.git_commit = "bbbbbbbbbbbb";
    r->provenance.finished_at = "2026-12-04T10:00:00Z";
  }
  store.record_done({{a1.spec.key(), a1}, {b1.spec.key(), b1}});

  CompareOptions o;
  o.db = db;
  const Comparison c = compare_measurements(o);
  auto find = [&](uint64_t seed, const std::string& metric) -> const ComparedMetric& {
    for (const auto& row : c.rows)
      if (row.spec.seed == seed && row.metric == metric) return row;
    throw std::runtime_error("no row " + metric);
  };
  std::vector<std::string> metrics;
  for (const auto& row : c.rows)
    if (row.spec.seed == 0) metrics.push_back(row.metric);
  EXPECT_EQ(metrics, (std::vector<std::string>{"final_loss", "step_time_p50", "peak_rss"})) << "the headline metrics";
  // final_loss: the mean of the last 8 (fewer than 10) steps' losses, a value of one training run each.
  const ComparedMetric& loss = find(0, "final_loss");
  EXPECT_NEAR(loss.base.mean, 1.65, 1e-12);
  EXPECT_NEAR(loss.new_.mean, 1.6375, 1e-12);
  EXPECT_EQ(loss.difference.test, Difference::Test::kNone);
  // step_time_p50 of run a: the medians of the per-step times, paired by step: every step slower, 8 of 8 (p = 2/2^8).
  const ComparedMetric& paired = find(0, "step_time_p50");
  EXPECT_NEAR(paired.base.mean, 1.35, 1e-12);
  EXPECT_TRUE(paired.base.ci && paired.new_.ci);
  EXPECT_EQ(paired.difference.test, Difference::Test::kSignedRank);
  EXPECT_EQ(paired.difference.n, 8);
  EXPECT_DOUBLE_EQ(paired.difference.p, 2.0 / 256);
  EXPECT_TRUE(paired.difference.significant);
  ASSERT_TRUE(paired.ratio);
  EXPECT_GT(*paired.ratio, 1.10);
  EXPECT_LT(*paired.ratio, 1.17);
  ASSERT_TRUE(paired.ratio_ci);
  EXPECT_GE(paired.ratio_ci->lo, 1.10 - 1e-9);
  EXPECT_LE(paired.ratio_ci->hi, 1.17 + 1e-9);
  // Run b's steps took other positions: not the same conversations, so unpaired.
  EXPECT_EQ(find(1, "step_time_p50").difference.test, Difference::Test::kMannWhitney);
  const std::string text = make_printer("md")->print(comparison_table(c, false));
  EXPECT_NE(text.find("not tested (fine-tunes: one training run per measurement)"), std::string::npos) << text;
  EXPECT_NE(text.find("signed-rank on 8 steps paired by step, p = "), std::string::npos) << text;
  std::string notes;
  for (const auto& n : c.notes) notes += n + "\n";
  EXPECT_NE(notes.find("Fine-tunes: step_time_p50 is recomputed from the stored per-step times"), std::string::npos)
      << notes;
}

}  // namespace
}  // namespace laco
