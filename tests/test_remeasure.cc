// Issue 13, before/after: a sweep measured again at another commit keeps both
// measurements (the old one archived whole, raw data included), a failed or
// interrupted re-measurement keeps the old one, merging two databases of the
// same sweep keeps both measurements, and `laco compare` prints the two
// commits' values, their ratio and whether they differ, with statistics
// checked here against values worked out by hand.
#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "harness/base/build_info.h"
#include "harness/base/host.h"
#include "harness/base/text.h"
#include "harness/print/printer.h"
#include "runner/sweep_spec.h"
#include "report/compare.h"
#include "report/load.h"
#include "report/tables.h"
#include "report/render.h"
#include "results/measurements.h"
#include "results/merge.h"
#include "results/schema.h"
#include "results/store.h"
#include "tests/sweep_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {

using nlohmann::json;
const std::string kLaco = LACO_BIN;

// "a,,b" -> {a, "", b}: every field, empty ones included.
std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out(1);
  for (char ch : text)
    if (ch == sep) out.emplace_back();
    else out.back() += ch;
  return out;
}

// A measurement made at `commit`, finished at `finished`.
RunRecord measured(const std::string& commit, bool dirty, const std::string& finished) {
  RunRecord r;
  r.provenance = Provenance::here("cpu");
  r.provenance.git_commit = commit;
  r.provenance.git_dirty = dirty;
  r.provenance.started_at = r.provenance.finished_at = finished;
  r.provenance.wall_seconds = 1.5;
  return r;
}

void add_timing(RunRecord& r, const std::string& name, const std::vector<double>& samples) {
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  r.add(name, sorted[sorted.size() / 2], name == "throughput" ? "requests/s" : "ms");
  r.samples[name] = samples;
}

// Twenty questions of family color and twenty of shape; the first `color_right` colors answered right, every shape.
void add_answers(RunRecord& r, int color_right) {
  for (int i = 0; i < 40; ++i) {
    const bool color = i < 20;
    const bool right = color ? i < color_right : true;
    r.predictions.push_back({fmt::format("test-{:06d}", i), color ? "color" : "shape", "red", right ? "red" : "blue", right});
  }
  const double acc_color = 100.0 * color_right / 20;
  r.add("acc_color", acc_color, "%");
  r.add("acc_shape", 100, "%");
  r.add("acc_mean", (acc_color + 100) / 2, "%");
  r.add("acc_overall", 100.0 * (color_right + 20) / 40, "%");
  r.add("visual_tokens", 16, "tokens");
  r.add("eval_time", color_right, "s");
}

// One efficiency and one accuracy run of the tiny spec, measured at commit
// aaaaaaaaaaaa and again at bbbbbbbbbbbb (with uncommitted changes).
struct TwoCommits {
  std::string dir, db, efficiency, accuracy;
  explicit TwoCommits(const std::string& name) {
    dir = test::temp_dir(name);
    db = dir + "/laco.db";
    const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
    std::vector<PlannedRun> runs;
    for (const auto& r : s.runs) {
      std::string& slot = r.eval() == "efficiency" ? efficiency : accuracy;
      if (!slot.empty()) continue;
      slot = r.key;
      runs.push_back(r.planned());
    }
    ResultStore store(db, true);
    store.register_runs("tiny", runs);
    const std::vector<std::string> keys = {efficiency, accuracy};
    EXPECT_EQ(store.claim(keys, ""), keys);
    RunRecord e = measured("aaaaaaaaaaaa", false, "2026-11-01T10:00:00Z"), a = e;
    add_timing(e, "encoder_latency", {10, 11, 12, 13, 14});
    add_timing(e, "prefill_latency", {1, 2, 3, 4, 5});
    add_timing(e, "throughput", {10, 11, 12, 13, 15});
    e.add("visual_tokens", 16, "tokens");
    add_answers(a, 20);
    store.record_done({{efficiency, e}, {accuracy, a}});
    // Measured again: done runs are claimed for a re-measurement (another build's commit).
    EXPECT_EQ(store.claim(keys, "", false, true), keys);
    RunRecord e2 = measured("bbbbbbbbbbbb", true, "2026-11-02T10:00:00Z"), a2 = e2;
    add_timing(e2, "encoder_latency", {20, 21, 22, 23, 24});
    add_timing(e2, "prefill_latency", {1.5, 2.5, 3.5, 4.5, 5.5});
    add_timing(e2, "throughput", {14, 16, 17, 18, 19});
    e2.add("visual_tokens", 16, "tokens");
    add_answers(a2, 10);
    store.record_done({{efficiency, e2}, {accuracy, a2}});
  }
};

const ComparedMetric& row_of(const Comparison& c, const std::string& metric) {
  for (const auto& r : c.rows)
    if (r.metric == metric) return r;
  ADD_FAILURE() << "no row for " << metric;
  return c.rows.front();
}

TEST(CompareStatistics, TimingsAndAccuraciesMatchValuesWorkedOutByHand) {
  TwoCommits t("compare_hand");
  CompareOptions o;
  o.db = t.db;
  o.metrics = {"all"};
  const Comparison c = compare_measurements(o);
  ASSERT_EQ(c.rows.size(), 4u + 6u) << "every metric both measurements have";
  for (const auto& r : c.rows) {
    EXPECT_EQ(r.base_commit, "aaaaaaaaaaaa");
    EXPECT_EQ(r.new_commit, "bbbbbbbbbbbb+dirty");
  }

  // Complete separation of 5 and 5: U = 0, two-sided exact p = 2 / C(10, 5) = 2/252.
  const auto& enc = row_of(c, "encoder_latency");
  EXPECT_EQ(enc.base.mean, 12);
  EXPECT_EQ(enc.new_.mean, 22);
  ASSERT_TRUE(enc.ratio.has_value());
  EXPECT_DOUBLE_EQ(*enc.ratio, 22.0 / 12.0);
  EXPECT_EQ(enc.difference.test, Difference::Test::kMannWhitney);
  EXPECT_NEAR(enc.difference.p, 2.0 / 252, 1e-12);
  EXPECT_TRUE(enc.difference.significant);
  // With 5 repetitions the widest order-statistic interval, [min, max], covers the median with 1 - 2/2^5.
  ASSERT_TRUE(enc.base.ci.has_value());
  EXPECT_EQ(enc.base.ci->lo, 10);
  EXPECT_EQ(enc.base.ci->hi, 14);
  EXPECT_DOUBLE_EQ(enc.base.ci->coverage, 1 - 2.0 / 32);
  // The two-sample Hodges-Lehmann ratio (every new / base repetition, their median: 22/12 here) and its exact
  // Mann-Whitney interval: between the extreme ratios 20/14 and 24/10.
  ASSERT_TRUE(enc.ratio_ci.has_value());
  EXPECT_GE(enc.ratio_ci->lo, 20.0 / 14 - 1e-12);
  EXPECT_LE(enc.ratio_ci->hi, 24.0 / 10 + 1e-12);
  EXPECT_LE(enc.ratio_ci->lo, 22.0 / 12);
  EXPECT_GE(enc.ratio_ci->hi, 22.0 / 12);

  // One pair out of order (15 > 14): U = 1, p = 2 * P(U <= 1) = 2 * 2/252.
  const auto& thr = row_of(c, "throughput");
  EXPECT_NEAR(thr.difference.p, 4.0 / 252, 1e-12);
  EXPECT_TRUE(thr.difference.significant);
  EXPECT_EQ(thr.unit, "requests/s");

  // Interleaved (1, 1.5, 2, 2.5, ...): U = 10 of 25; P(U <= 10) = 87/252 from the
  // counts 1,1,2,3,5,7,9,11,14,16,18 of U = 0..10, so p = 174/252: not significant.
  const auto& pre = row_of(c, "prefill_latency");
  EXPECT_EQ(pre.base.mean, 3);
  EXPECT_EQ(pre.new_.mean, 3.5);
  EXPECT_NEAR(pre.difference.p, 174.0 / 252, 1e-12);
  EXPECT_FALSE(pre.difference.significant);

  // A count has no raw data: its values and ratio, not tested.
  const auto& tokens = row_of(c, "visual_tokens");
  EXPECT_EQ(tokens.difference.test, Difference::Test::kNone);
  EXPECT_DOUBLE_EQ(*tokens.ratio, 1.0);
  EXPECT_FALSE(tokens.ratio_ci.has_value());

  // Accuracies from the predictions: colors 20/20 -> 10/20 right, shapes 20/20 both times.
  const auto& color = row_of(c, "acc_color");
  EXPECT_DOUBLE_EQ(color.base.mean, 100);
  EXPECT_DOUBLE_EQ(color.new_.mean, 50);
  EXPECT_EQ(color.difference.test, Difference::Test::kPairedBootstrap);
  EXPECT_LT(color.difference.interval.hi, 0) << "new - base is below 0 beyond the noise";
  EXPECT_TRUE(color.difference.significant);
  const auto& shape = row_of(c, "acc_shape");
  EXPECT_EQ(shape.difference.test, Difference::Test::kPairedBootstrap);
  EXPECT_EQ(shape.difference.interval.lo, 0);
  EXPECT_EQ(shape.difference.interval.hi, 0);
  EXPECT_FALSE(shape.difference.significant) << "the same answers to the same questions";
  const auto& mean = row_of(c, "acc_mean");
  EXPECT_DOUBLE_EQ(mean.base.mean, 100);
  EXPECT_DOUBLE_EQ(mean.new_.mean, 75);
  EXPECT_DOUBLE_EQ(*mean.ratio, 0.75);
  EXPECT_TRUE(mean.difference.significant);
  const auto& overall = row_of(c, "acc_overall");
  EXPECT_DOUBLE_EQ(overall.new_.mean, 75);
  // eval_time has no raw data: not tested.
  EXPECT_EQ(row_of(c, "eval_time").difference.test, Difference::Test::kNone);

  // The default metrics: each evaluation's headline ones that both measurements have.
  o.metrics = {};
  std::set<std::string> names;
  for (const auto& r : compare_measurements(o).rows) names.insert(r.metric);
  EXPECT_EQ(names, (std::set<std::string>{"acc_mean", "acc_overall", "visual_tokens", "prefill_latency", "throughput",
                                          "encoder_latency"}));

  // Printed for reading: the values with their intervals, the test and the verdict.
  const std::string text = make_printer("table")->print(comparison_table(c, false));
  EXPECT_NE(text.find("12.0 [10.0, 14.0]"), std::string::npos) << text;
  EXPECT_NE(text.find("Mann-Whitney U, p = 0.007937"), std::string::npos) << text;
  EXPECT_NE(text.find("bbbbbbbbbbbb+dirty"), std::string::npos) << text;
  EXPECT_NE(text.find("not tested"), std::string::npos) << text;
  EXPECT_NE(text.find("cover with less than 95% (as little as 93.7% here"), std::string::npos) << text;
  EXPECT_NE(text.find("5 of 10 compared values differ significantly; 3 not tested"), std::string::npos) << text;
}

// csv and json are data: every number in its own column, column names unique, both parse.
TEST(CompareStatistics, CsvAndJsonParseWithUniqueColumns) {
  TwoCommits t("compare_formats");
  CompareOptions o;
  o.db = t.db;
  const Comparison c = compare_measurements(o);
  const PrintTable data = comparison_table(c, true);
  std::set<std::string> names;
  for (const auto& col : data.columns) EXPECT_TRUE(names.insert(col.name).second) << "duplicate column " << col.name;
  const std::string csv = make_printer("csv")->print(data);
  const auto lines = split(csv, '\n');
  ASSERT_GE(lines.size(), c.rows.size() + 1);
  EXPECT_EQ(split(lines[0], ',').size(), data.columns.size()) << lines[0];
  EXPECT_NE(lines[0].find("base,base_lo,base_hi"), std::string::npos) << lines[0];
  for (size_t i = 1; i <= c.rows.size(); ++i) EXPECT_EQ(split(lines[i], ',').size(), data.columns.size()) << lines[i];
  const json rows = json::parse(make_printer("json")->print(data));
  ASSERT_EQ(rows.size(), c.rows.size());
  bool found = false;
  for (const auto& r : rows) {
    EXPECT_EQ(r.size(), data.columns.size());
    if (r["metric"] == "encoder_latency") {
      found = true;
      EXPECT_EQ(r["base"].get<double>(), 12);
      EXPECT_EQ(r["new"].get<double>(), 22);
      EXPECT_NEAR(r["p"].get<double>(), 2.0 / 252, 1e-12);
      EXPECT_EQ(r["significant"], "yes");
      EXPECT_EQ(r["test"], "mann-whitney-u");
      EXPECT_EQ(r["base_commit"], "aaaaaaaaaaaa");
    }
    if (r["metric"] == "visual_tokens") EXPECT_EQ(r["significant"], "not tested");
  }
  EXPECT_TRUE(found);
  // Markdown through the same table.
  const std::string md = make_printer("md")->print(comparison_table(c, false));
  EXPECT_NE(md.find("| base commit"), std::string::npos) << md;
}

TEST(CompareStatistics, ErrorsNameTheDatabaseWhatItHoldsAndTheCommits) {
  TwoCommits t("compare_errors");
  CompareOptions o;
  o.db = t.db;
  o.base = "zz";
  test::expect_error([&] { compare_measurements(o); },
                     {"--base zz: no measurement in " + t.db + " at a commit starting with 'zz'",
                      "aaaaaaaaaaaa (2 measurements)", "bbbbbbbbbbbb+dirty (2 measurements)"});
  o.base = "";
  o.new_ = "b";
  EXPECT_EQ(compare_measurements(o).rows.size(), 6u) << "a unique prefix names the commit";
  o.new_ = "";
  o.metrics = {"acc_nope"};
  test::expect_error([&] { compare_measurements(o); }, {"--metrics: no compared run has metric 'acc_nope'", "acc_mean"});
  o.metrics = {};
  o.where = {"eval=efficiency"};
  EXPECT_EQ(compare_measurements(o).rows.size(), 3u) << "--where as in laco query";
  o.where = {"layer=nowhere"};
  test::expect_error([&] { compare_measurements(o); }, {"--where layer"});

  // A database whose runs have one measurement each: nothing to compare, and it says what there is.
  const std::string one = t.dir + "/one.db";
  {
    const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
    ResultStore store(one, true);
    store.register_runs("tiny", {s.runs[0].planned()});
    store.claim({s.runs[0].key}, "");
    RunRecord r = measured("aaaaaaaaaaaa", false, "2026-11-01T10:00:00Z");
    r.add("visual_tokens", 16, "tokens");
    store.record_done({{s.runs[0].key, r}});
  }
  o = {};
  o.db = one;
  test::expect_error([&] { compare_measurements(o); },
                     {one + ": no run has two measurements at different commits to compare", "1 done run",
                      "0 archived measurements", "aaaaaaaaaaaa (1)", "laco sweep SPEC --remeasure"});
  const auto r = test::run_command(kLaco + " compare --db " + one);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("laco: error: " + one + ": no run has two measurements"), std::string::npos) << r.output;
  // A database of schema version 1, read as it is: no archive yet, and the message says so.
  const std::string v1 = t.dir + "/v1.db";
  std::filesystem::copy_file(LACO_FIXTURES_DIR "/v1_runs.db", v1);
  o.db = v1;
  test::expect_error([&] { compare_measurements(o); }, {"schema version 1 has no archive of earlier measurements"});
  EXPECT_EQ(inspect_results_db(v1), 1) << "compare reads; it never migrates";
}

// The store's side: a re-measurement is claimed without touching the done
// run, archives the old measurement whole when it is recorded, and a failure
// or an interruption leaves the old one current.
TEST(ResultsStore, ARemeasurementArchivesTheOldMeasurementAndAFailureKeepsIt) {
  const std::string dir = test::temp_dir("store_remeasure");
  const std::string db = dir + "/laco.db";
  const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
  const std::string key = s.runs[0].key;
  ResultStore store(db, true);
  store.register_runs("tiny", {s.runs[0].planned()});
  store.claim({key}, "");
  RunRecord old = measured("aaaaaaaaaaaa", false, "2026-11-01T10:00:00Z");
  add_answers(old, 20);
  old.series["loss_stage1"] = {{1, 2.0}, {2, 1.5}};
  old.facts = {{"stage0_cached", true}};
  store.record_done({{key, old}});
  const StoredMeasurement before = current_measurement(store.db(), key);

  EXPECT_TRUE(store.claim({key}, "").empty()) << "done: not claimed without --remeasure";
  EXPECT_EQ(store.claim({key}, "", true, true), std::vector<std::string>{key});
  EXPECT_EQ(store.states({key}).at(key).status, "done") << "readers still see the measurement";
  store.record_failed({key}, "boom");
  auto state = store.states({key}).at(key);
  EXPECT_EQ(state.status, "done");
  EXPECT_EQ(state.worker_pid, 0);
  EXPECT_NE(state.error.find("re-measurement failed; the previous measurement is kept: boom"), std::string::npos);
  EXPECT_TRUE(current_measurement(store.db(), key).same_as(before));
  EXPECT_TRUE(archived_measurements(store.db(), key).empty());

  store.claim({key}, "", true, true);
  store.release({key});  // an interrupted re-measurement
  EXPECT_EQ(store.states({key}).at(key).status, "done");
  EXPECT_TRUE(current_measurement(store.db(), key).same_as(before));

  // Held by another live process (pid 1 on this host): not claimable, nor recordable.
  store.db().exec(fmt::format("UPDATE runs SET worker_host = '{}', worker_pid = 1 WHERE key = '{}'", this_host(), key));
  EXPECT_TRUE(store.claim({key}, "", true, true).empty());
  test::expect_error([&] { store.record_done({{key, old}}); }, {"not held by this process"});
  store.db().exec("UPDATE runs SET worker_host = NULL, worker_pid = NULL");

  ASSERT_EQ(store.claim({key}, "", true, true), std::vector<std::string>{key});
  RunRecord now = measured("bbbbbbbbbbbb", false, "2026-11-02T10:00:00Z");
  add_answers(now, 10);
  store.record_done({{key, now}});
  const auto archive = archived_measurements(store.db(), key);
  ASSERT_EQ(archive.size(), 1u);
  EXPECT_EQ(archive[0].seq, 1);
  EXPECT_TRUE(archive[0].same_as(before)) << "archived whole: provenance, facts, metrics, series, predictions";
  const RunRecord back = measurement_record(archive[0], s.runs[0].spec, "archive");
  EXPECT_EQ(back.provenance.git_commit, "aaaaaaaaaaaa");
  EXPECT_EQ(back.predictions, old.predictions);
  EXPECT_EQ(back.series, old.series);
  EXPECT_EQ(back.facts, old.facts);
  ASSERT_EQ(back.metrics.size(), old.metrics.size());
  for (const auto& m : old.metrics) EXPECT_EQ(back.value(m.name), m.value) << m.name;
  EXPECT_EQ(test::query_rows(db, "SELECT value FROM metrics WHERE name = 'acc_color'"), std::vector<std::string>{"50"});
  EXPECT_EQ(test::query_rows(db, "SELECT state, git_commit FROM v_measurements ORDER BY seq"),
            (std::vector<std::string>{"current|bbbbbbbbbbbb", "archived|aaaaaaaaaaaa"}));
  EXPECT_EQ(store.states({key}).at(key).error, "") << "a new measurement clears the failure note";
}

// A build counts a run as its own only at its commit with neither tree dirty.
TEST(ResultsStore, OnlyRunsMeasuredByAnotherBuildAreReMeasured) {
  RunState s;
  s.status = "done";
  s.git_commit = "0123456789ab";
  s.git_dirty = false;
  EXPECT_TRUE(claimable(s, false, true));
  EXPECT_FALSE(claimable(s, true, false));
  s.git_commit = build_commit();
  EXPECT_EQ(claimable(s, false, true), build_dirty() != std::optional<bool>(false))
      << "this build's commit: measured again only when this build has uncommitted changes";
  s.git_dirty = true;
  EXPECT_TRUE(claimable(s, false, true)) << "measured with uncommitted changes: never this build's";
  s.git_dirty.reset();
  EXPECT_TRUE(claimable(s, false, true));
}

// Timestamps of measurements differ by more than a merge tie; the archive is in seq order.
std::vector<std::string> archive_rows(const std::string& db) {
  return test::query_rows(db, "SELECT run_key, git_commit, finished_at FROM measurements ORDER BY run_key, seq");
}

// Two databases of the same runs measured at two commits (the metrics differ): merged, both kept.
TEST(ResultsMerge, TheSameRunsMeasuredTwiceKeepBothMeasurements) {
  TwoCommits t("merge_two_commits");
  const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
  // Split t.db into "before" (the archived measurements as current) and "after" (the current ones).
  const std::string before = t.dir + "/before.db", after = t.dir + "/after.db";
  {
    ResultStore b(before, true);
    std::vector<PlannedRun> runs;
    for (const auto& r : s.runs)
      if (r.key == t.efficiency || r.key == t.accuracy) runs.push_back(r.planned());
    b.register_runs("tiny", runs);
    ResultStore a(after, true);
    a.register_runs("tiny", runs);
    for (const auto& key : {t.efficiency, t.accuracy}) {
      sql::Connection src = open_results_db(t.db, false);
      const RunRecord older = measurement_record(archived_measurements(src, key).at(0), runs[0].spec, "x");
      const RunRecord newer = measurement_record(current_measurement(src, key), runs[0].spec, "x");
      b.claim({key}, "");
      b.record_done({{key, older}});
      a.claim({key}, "");
      a.record_done({{key, newer}});
    }
  }
  const std::string out = t.dir + "/out.db";
  const auto first = merge_results(out, {after, before});
  EXPECT_EQ(first.added, 2u);
  EXPECT_EQ(first.both, 2u);
  EXPECT_EQ(test::query_rows(out, "SELECT DISTINCT git_commit FROM runs"), std::vector<std::string>{"bbbbbbbbbbbb"})
      << "the newer measurement is current";
  EXPECT_EQ(archive_rows(out).size(), 2u);
  // Merged again, and the other way round into a new file: nothing new, the same content.
  const auto again = merge_results(out, {after, before});
  EXPECT_EQ(again.identical, 4u) << "each input's run is one OUT holds";
  EXPECT_EQ(again.both + again.archived, 0u);
  const std::string reversed = t.dir + "/reversed.db";
  merge_results(reversed, {before, after});
  EXPECT_EQ(test::dump_runs(reversed, true), test::dump_runs(out, true));
  EXPECT_EQ(test::query_rows(reversed, "SELECT run_key, git_commit FROM measurements ORDER BY run_key"),
            test::query_rows(out, "SELECT run_key, git_commit FROM measurements ORDER BY run_key"));
  // The archive travels: merged into a third database, kept once however often.
  const std::string third = t.dir + "/third.db";
  EXPECT_EQ(merge_results(third, {out}).archived, 2u);
  EXPECT_EQ(merge_results(third, {out, t.db, reversed}).archived, 0u);
  EXPECT_EQ(archive_rows(third).size(), 2u);
  // And compares as the database it came from.
  CompareOptions o;
  o.db = third;
  o.metrics = {"all"};
  CompareOptions from = o;
  from.db = t.db;
  const std::string a = make_printer("csv")->print(comparison_table(compare_measurements(o), true));
  const std::string b = make_printer("csv")->print(comparison_table(compare_measurements(from), true));
  EXPECT_EQ(a, b);
}

struct SweepDir {
  std::string dir, spec, db;
  SweepDir(const std::string& name, const json& spec_json) {
    dir = test::temp_dir(name);
    spec = dir + "/spec.json";
    db = dir + "/laco.db";
    test::write_file(spec, spec_json.dump(2));
  }
};

// As if the runs had been measured by an older build.
void pretend_measured_at(const std::string& db, const std::string& commit) {
  sql::Connection c(db, sql::Connection::Mode::kReadWrite);
  c.prepare("UPDATE runs SET git_commit = ?, git_dirty = 0").bind(1, commit).run();
}

json subset(const RunRecord& r) {
  const json j = to_json(r);
  return {{"metrics", j["metrics"]}, {"samples", j["samples"]}, {"predictions", j["predictions"]},
          {"provenance", j["provenance"]}, {"facts", j["facts"]}};
}

TEST(SweepRemeasure, ASweepMeasuredAgainAtAnotherCommitKeepsBothAndCompareShowsThem) {
  json spec = test::tiny_spec();
  spec["efficiency"]["reps"] = 3;
  SweepDir d("sweep_remeasure", spec);
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  pretend_measured_at(d.db, "0123456789ab");
  const auto old = load_done_runs(d.db);
  ASSERT_EQ(old.size(), 10u);

  // Without --remeasure everything is done; with it, the dry run says what would be measured again.
  r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_NE(r.output.find("0 done now, 10 skipped (done before)"), std::string::npos) << r.output;
  r = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run --remeasure"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("10 done, 0 failed, 0 running elsewhere, 10 to run (0 new, 0 pending, 0 left by a killed "
                          "process, 10 done to re-measure)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("remeasure"), std::string::npos) << r.output;
  EXPECT_TRUE(test::query_rows(d.db, "SELECT * FROM measurements").empty()) << "a dry run writes nothing";

  r = test::run_command(test::sweep_command(d.spec, d.db, "--remeasure"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("10 done now, 0 skipped (done before), 0 failed now, 10 re-measured"), std::string::npos)
      << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*), min(git_commit), max(git_commit) FROM measurements"),
            std::vector<std::string>{"10|0123456789ab|0123456789ab"});
  EXPECT_EQ(test::query_rows(d.db, "SELECT DISTINCT git_commit FROM runs"), std::vector<std::string>{build_commit()});
  // The old measurements, archived intact: metrics, every repetition, every question, provenance.
  {
    sql::Connection c = open_results_db(d.db, false);
    for (const auto& run : old) {
      const auto archive = archived_measurements(c, run.spec.key());
      ASSERT_EQ(archive.size(), 1u) << run.spec.key();
      const RunRecord back = measurement_record(archive[0], run.spec, "archive");
      EXPECT_EQ(subset(back), subset(run)) << run.spec.key();
      EXPECT_FALSE(back.samples.empty() && back.predictions.empty()) << "raw data kept";
    }
  }
  // The current ones are new measurements.
  EXPECT_NE(to_json(load_done_runs(d.db)).dump(), to_json(old).dump());
  if (build_dirty() == std::optional<bool>(false)) {  // a clean build: its own runs are not measured again
    r = test::run_command(test::sweep_command(d.spec, d.db, "--remeasure"));
    EXPECT_NE(r.output.find("0 done now, 10 skipped (done before)"), std::string::npos) << r.output;
  }

  // laco compare: both commits, every run, in every format.
  r = test::run_command(kLaco + " compare --db " + d.db);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0123456789ab"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(build_version()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Mann-Whitney U, p = "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("paired bootstrap, new - base = "), std::string::npos) << r.output;
  for (const auto& run : old) EXPECT_NE(r.output.find(run.spec.key()), std::string::npos) << run.spec.key();
  const auto csv = test::run_command(kLaco + " compare --db " + d.db + " -o csv 2>/dev/null");
  ASSERT_EQ(csv.status, 0) << csv.output;
  const auto lines = split(csv.output, '\n');
  const auto header = split(lines.at(0), ',');
  EXPECT_EQ(std::set<std::string>(header.begin(), header.end()).size(), header.size()) << lines[0];
  const auto json_out = test::run_command(kLaco + " compare --db " + d.db + " -o json 2>/dev/null");
  ASSERT_EQ(json_out.status, 0) << json_out.output;
  const json rows = json::parse(json_out.output);
  size_t data_lines = 0;
  for (const auto& line : lines) data_lines += !line.empty();
  EXPECT_EQ(rows.size(), data_lines - 1);
  EXPECT_GE(rows.size(), 10u);
  const auto md = test::run_command(kLaco + " compare --db " + d.db + " -o md --where eval=efficiency --metrics "
                                    "encoder_latency");
  ASSERT_EQ(md.status, 0) << md.output;
  EXPECT_NE(md.output.find("| encoder_latency"), std::string::npos) << md.output;
  EXPECT_EQ(md.output.find("acc_mean"), std::string::npos) << md.output;
  const auto bad = test::run_command(kLaco + " compare --db " + d.db + " --base fff");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("--base fff: no measurement"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("0123456789ab (10 measurements)"), std::string::npos) << bad.output;
}

// Two databases of the same sweep measured on two machines (or twice on one):
// accuracy runs differ at least in their eval_time. `laco merge` keeps both
// measurements instead of failing, and the same database twice once.
TEST(ResultsMerge, TwoDatabasesOfOneSweepMergeWithBothMeasurementsKept) {
  json spec = test::tiny_spec("tiny", "accuracy");
  spec["grids"][0]["methods"] = {"none", "laco"};
  spec["grids"][0]["placements"] = {"1/4"};
  SweepDir d("merge_one_sweep_twice", spec);
  const std::string a = d.dir + "/a.db", b = d.dir + "/b.db", out = d.dir + "/out.db";
  for (const auto& db : {a, b}) {
    const auto r = test::run_command(test::sweep_command(d.spec, db));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  ASSERT_NE(test::dump_runs(a, true), test::dump_runs(b, true)) << "two measurements of one sweep differ";
  auto r = test::run_command(kLaco + " merge " + out + " " + a + " " + b);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 runs added, 0 replaced a run not done, 0 identical (kept once), 2 measured differently in "
                          "two places (both kept"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(test::query_rows(out, "SELECT status, count(*) FROM runs GROUP BY status"), std::vector<std::string>{"done|2"});
  EXPECT_EQ(test::query_rows(out, "SELECT count(*) FROM measurements"), std::vector<std::string>{"2"});
  EXPECT_EQ(test::query_rows(out, "SELECT count(*) FROM v_measurements"), std::vector<std::string>{"4"});
  // The newer of each pair is current.
  EXPECT_EQ(test::query_rows(out, "SELECT count(*) FROM runs r JOIN measurements m ON m.run_key = r.key "
                                  "WHERE m.finished_at > r.finished_at"),
            std::vector<std::string>{"0"});
  r = test::run_command(kLaco + " merge " + out + " " + a + " " + b);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 runs added, 0 replaced a run not done, 4 identical (kept once), 0 measured differently"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(test::query_rows(out, "SELECT count(*) FROM measurements"), std::vector<std::string>{"2"});
  const std::string twice = d.dir + "/twice.db";
  r = test::run_command(kLaco + " merge " + twice + " " + a + " " + a);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 runs added, 0 replaced a run not done, 2 identical (kept once), 0 measured differently"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(test::query_rows(twice, "SELECT count(*) FROM measurements"), std::vector<std::string>{"0"});
  EXPECT_EQ(test::dump_runs(twice, true), test::dump_runs(a, true));
  // Both measurements are of this build: compared as a noise check when asked for by commit.
  r = test::run_command(kLaco + " compare --db " + out);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("no run has two measurements at different commits to compare (2 done runs, 2 archived "
                          "measurements; measurements per commit: " + build_version() + " (4))"),
            std::string::npos)
      << r.output;
  r = test::run_command(kLaco + " compare --db " + out + " --base " + build_version() + " --new " + build_version());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("paired bootstrap, new - base = "), std::string::npos) << r.output;
}

// A re-measurement that fails keeps the old measurement current and the run
// done; the sweep says so and exits 1. (A failure at run time: a metric that
// came out NaN, LACO_FAULT_NAN_METRIC. Test data that broke meanwhile is an
// input error, refused before anything is claimed: the database unchanged.)
TEST(SweepRemeasure, AFailedReMeasurementKeepsTheOldMeasurement) {
  json spec = test::tiny_spec("tiny", "accuracy");
  spec["grids"][0]["methods"] = {"laco"};
  spec["grids"][0]["placements"] = {"1/4"};
  SweepDir d("sweep_remeasure_fail", spec);
  auto r = test::run_command(kLaco + " data export --preset tiny --split test --count 10 --out " + d.dir + "/data");
  ASSERT_EQ(r.status, 0) << r.output;
  spec["accuracy"]["test_data"] = d.dir + "/data/test.jsonl";
  test::write_file(d.spec, spec.dump(2));
  r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  pretend_measured_at(d.db, "0123456789ab");
  const std::string before = test::dump_runs(d.db, true);
  const std::string raw = test::query_rows(d.db, "SELECT count(*), sum(correct) FROM predictions")[0];

  const std::string good = test::read_file(d.dir + "/data/test.jsonl");
  test::write_file(d.dir + "/data/test.jsonl", "this is not json\n");
  r = test::run_command(test::sweep_command(d.spec, d.db, "--remeasure"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("test.jsonl:1: not valid JSON"), std::string::npos) << r.output;
  EXPECT_EQ(test::dump_runs(d.db, true), before) << "an input error claims nothing";
  test::write_file(d.dir + "/data/test.jsonl", good);

  r = test::run_command("LACO_FAULT_NAN_METRIC=acc_mean " + test::sweep_command(d.spec, d.db, "--remeasure"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("0 done now, 0 skipped (done before), 1 failed now, 0 re-measured"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("(a re-measurement: the previous measurement is kept)"), std::string::npos) << r.output;
  EXPECT_EQ(test::dump_runs(d.db, true), before) << "still done, with the same metrics";
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*), sum(correct) FROM predictions")[0], raw);
  EXPECT_EQ(test::query_rows(d.db, "SELECT git_commit, worker_pid IS NULL FROM runs"),
            std::vector<std::string>{"0123456789ab|1"});
  EXPECT_TRUE(test::query_rows(d.db, "SELECT * FROM measurements").empty());
  const auto error = test::query_rows(d.db, "SELECT error FROM runs")[0];
  EXPECT_NE(error.find("re-measurement failed; the previous measurement is kept"), std::string::npos) << error;
  // The report still reads it.
  EXPECT_EQ(load_done_runs(d.db).size(), 1u);
}

// The previous binary's database (schema version 2, tests/fixtures/README.md)
// opens as it is for readers, migrates to version 3 for writers, and reports the same.
TEST(RunKeys, ADatabaseOfSchemaVersion2IsMigratedAndReportsTheSame) {
  const std::string dir = test::temp_dir("v2_migrate");
  const std::string db = dir + "/v2.db";
  std::filesystem::copy_file(LACO_FIXTURES_DIR "/v2_runs.db", db);
  ASSERT_EQ(inspect_results_db(db), 2);
  const auto before = load_done_runs(db);
  ASSERT_EQ(before.size(), 15u);
  ASSERT_FALSE(before[0].samples.empty() && before[0].predictions.empty());
  auto dry = test::run_command(kLaco + " sweep " LACO_SWEEPS_DIR "/smoke.json --dry-run --remeasure --db " + db);
  EXPECT_EQ(dry.status, 0) << dry.output;
  // 11 of its 15 runs are of models that changed since (method initialisation,
  // TokenPacker as the projector after the encoder, every accuracy run since
  // SynthVQA's spatial question is vertical): new runs, not re-measurements.
  EXPECT_NE(dry.output.find("15 to run (11 new, 0 pending, 0 left by a killed process, 4 done to re-measure)"),
            std::string::npos)
      << dry.output;
  EXPECT_EQ(inspect_results_db(db), 2) << "a dry run does not migrate";
  { ResultStore store(db, true); }  // a writer migrates
  EXPECT_EQ(inspect_results_db(db), results_schema_version());
  EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM measurements"), std::vector<std::string>{"0"});
  const auto after = load_done_runs(db);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(to_json(after[i]).dump(), to_json(before[i]).dump());
  const RunIndex a(before, {}), b(after, {});
  for (size_t t = 0; t < build_tables(a, {}).size(); ++t)
    EXPECT_EQ(render_markdown(build_tables(b, {})[t]), render_markdown(build_tables(a, {})[t]));
  // The archive has the columns of a measurement.
  std::set<std::string> columns;
  for (const auto& c : test::query_rows(db, "SELECT name FROM pragma_table_info('measurements')")) columns.insert(c);
  for (const auto& c : measurement_columns()) EXPECT_TRUE(columns.count(c)) << c;
}

}  // namespace
}  // namespace laco
