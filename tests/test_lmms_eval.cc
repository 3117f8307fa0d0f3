// Issue 43, lmms-eval's logs: the `--log_samples` files lmms-eval's own code
// wrote (tests/lmms_eval/, scripts/lmms_eval_fixtures.py) read into typed
// data, and rescored with laco's scorers: no disagreement on them, exactly the
// planted one on a copy with one score changed, and every bad file named by
// file:line and field.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include "evals/lmms_eval_log.h"
#include "evals/lmms_eval_rescore.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "results/sqlite.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kDir = LACO_SOURCE_DIR "/tests/lmms_eval";
const std::string kDate = "20261207_000000";

std::string samples_of(const std::string& folder, const std::string& task) {
  return kDir + "/" + folder + "/" + kDate + "_samples_" + task + ".jsonl";
}
std::string results_of(const std::string& folder) { return kDir + "/" + folder + "/" + kDate + "_results.json"; }
std::string bench_of(const std::string& folder) { return kDir + "/" + folder + "/bench.jsonl"; }

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// A copy of a fixture's two files in a fresh folder, the samples file named
// `samples_name`; `edit` changes the samples' lines (parsed) before they are written.
struct LogCopy {
  std::string samples, results;
};
LogCopy copy_log(const std::string& test, const std::string& folder, const std::string& task,
                 const std::function<void(std::vector<std::string>&)>& edit = {},
                 const std::string& samples_name = "") {
  const std::string dir = test::temp_dir(test);
  LogCopy c{dir + "/" + (samples_name.empty() ? kDate + "_samples_" + task + ".jsonl" : samples_name),
            dir + "/" + kDate + "_results.json"};
  std::vector<std::string> lines;
  std::ifstream in(samples_of(folder, task));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (edit) edit(lines);
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  test::write_file(c.samples, text);
  fs::copy_file(results_of(folder), c.results);
  return c;
}

// Line `n` (1-based) parsed, changed by `fn`, written back as one line.
void edit_line(std::vector<std::string>& lines, size_t n, const std::function<void(json&)>& fn) {
  json j = json::parse(lines.at(n - 1));
  fn(j);
  lines.at(n - 1) = j.dump();
}

TEST(LmmsEvalLog, ReadsMmeAsLmmsEvalWroteIt) {
  const auto log = read_lmms_eval_log(samples_of("mme", "mme"), results_of("mme"));
  EXPECT_EQ(log.lmms_task, "mme");
  EXPECT_EQ(log.task, "mme");
  ASSERT_EQ(log.samples.size(), 8u);
  // mme_aggregate_results: existence (200 + 50) / 2, count 50; cognition 200.
  EXPECT_EQ(log.results,
            (std::map<std::string, double>{{"mme_perception_score", 175.0}, {"mme_cognition_score", 200.0}}));
  EXPECT_EQ(log.config.at("model"), "llava_onevision");
  EXPECT_EQ(
      log.config.at("model_args").get<std::string>().rfind("pretrained=lmms-lab/llava-onevision-qwen2-0.5b-ov,", 0),
      0u);
  EXPECT_TRUE(log.config.at("limit").is_null());
  EXPECT_EQ(log.git_hash, "v0.6-181-g75571cfe");
  EXPECT_EQ(log.version, "main@v0.6-181");
  EXPECT_EQ(log.date, kDate);
  EXPECT_EQ(log.samples_sha256.size(), 64u);
  EXPECT_EQ(log.results_sha256.size(), 64u);
  const auto& s3 = log.samples[3];
  EXPECT_EQ(s3.doc_id, 3);
  EXPECT_EQ(s3.line, 4);
  EXPECT_EQ(s3.target, "No");
  EXPECT_EQ(s3.response, "The answer is yes");
  EXPECT_TRUE(s3.doc.is_null());  // lmms-eval drops `doc` since v0.4
  EXPECT_EQ(s3.fields.at("mme_perception_score"),
            (json{{"question_id", "existence/0002.png"}, {"category", "existence"}, {"score", 0.0}}));
  EXPECT_EQ(log.samples[6].response, " yes\n");  // as the model said it; process_results strips
  EXPECT_TRUE(log.samples[6].fields.contains("mme_cognition_score"));
}

TEST(LmmsEvalLog, ReadsTextVqaAndPope) {
  const auto t = read_lmms_eval_log(samples_of("textvqa_val", "textvqa_val"), results_of("textvqa_val"));
  EXPECT_EQ(t.lmms_task, "textvqa_val");
  EXPECT_EQ(t.task, "textvqa");
  ASSERT_EQ(t.samples.size(), 8u);
  // "submission,none" is null (textvqa_aggregate_submissions returns None): not a result.
  EXPECT_EQ(t.results, (std::map<std::string, double>{{"exact_match", 0.7875000000000001}}));
  EXPECT_EQ(t.samples[0].target, "answer");  // doc_to_target "answer" rendered as a template
  EXPECT_TRUE(t.samples[0].fields.at("exact_match").is_number_integer());  // Python's min(1, 1.0) is the int 1
  EXPECT_EQ(t.samples[1].fields.at("exact_match"), 0.9);
  EXPECT_EQ(t.samples[1].fields.at("submission").at("answer"), "2");

  const auto p = read_lmms_eval_log(samples_of("pope", "pope"), results_of("pope"));
  EXPECT_EQ(p.task, "pope");
  EXPECT_EQ(p.results.size(), 5u);
  EXPECT_EQ(p.results.at("pope_accuracy"), 2.0 / 6.0);
  EXPECT_EQ(p.samples[1].fields.at("pope_accuracy").at("prediction"), "no.");
}

TEST(LmmsEvalLog, ReadsTheOldMmeNamingOfV024) {
  const auto log = read_lmms_eval_log(samples_of("mme_v0.2.4", "mme"), results_of("mme_v0.2.4"));
  // v0.2.4 wrote "mme_percetion_score" in both files; laco's name is the fixed one.
  EXPECT_EQ(log.results,
            (std::map<std::string, double>{{"mme_perception_score", 175.0}, {"mme_cognition_score", 200.0}}));
  EXPECT_TRUE(log.samples[0].fields.contains("mme_perception_score"));
  EXPECT_FALSE(log.samples[0].fields.contains("mme_percetion_score"));
  EXPECT_EQ(log.samples[0].response, "Yes");  // filtered_resps was ["Yes"]
  EXPECT_EQ(log.samples[0].doc.at("question"), "Is there a dog in this image? Please answer yes or no.");
  EXPECT_EQ(log.version, "");  // no lmms_eval_version before v0.6
  EXPECT_EQ(log.git_hash, "af395ae1");
  EXPECT_EQ(lmms_eval_metric_name("mme_percetion_score"), "mme_perception_score");
  EXPECT_EQ(lmms_eval_metric_name("exact_match"), "exact_match");
}

TEST(LmmsEvalLog, TaskNames) {
  EXPECT_EQ(laco_task_of("textvqa_val"), "textvqa");
  EXPECT_EQ(laco_task_of("vqav2_val"), "vqav2");
  EXPECT_EQ(laco_task_of("docvqa_val"), "docvqa");
  EXPECT_EQ(laco_task_of("mmbench_en_dev"), "mmbench_en");
  EXPECT_EQ(laco_task_of("pope_adv"), "pope");
  EXPECT_EQ(laco_task_of("textvqa"), "");     // a group: no samples file of its own
  EXPECT_EQ(laco_task_of("mmbench_en"), "");  // likewise
  EXPECT_EQ(laco_task_of("mmmu_val"), "");
  // Every laco task type has an lmms-eval name, and every name maps to a registered type.
  for (const auto& type : task_registry()) {
    bool named = false;
    for (const auto& [lmms, laco] : lmms_eval_task_names()) named |= laco == type.name;
    EXPECT_TRUE(named) << type.name;
  }
  for (const auto& [lmms, laco] : lmms_eval_task_names()) EXPECT_NO_THROW(find_task(laco)) << lmms;

  EXPECT_EQ(lmms_eval_task_of_file("/x/20261207_000000_samples_textvqa_val.jsonl"), "textvqa_val");
  EXPECT_EQ(lmms_eval_task_of_file("samples_mme_2026-12-07T00-00-00.123456.jsonl"), "mme");  // v0.2.3's name
  test::expect_error([] { lmms_eval_task_of_file("/x/20261207_000000_results.json"); },
                     {"/x/20261207_000000_results.json", "<date>_samples_<task>.jsonl", "samples_<task>_<date>.jsonl"});
  test::expect_error([] { lmms_eval_task_of_file("samples_.jsonl"); }, {"samples_.jsonl", "cannot tell the task"});
}

TEST(LmmsEvalRescore, FixturesAgreeWithLmmsEval) {
  struct Case {
    std::string folder, task, bench;
    std::vector<std::string> metrics;
  };
  const std::vector<Case> cases = {
      {"mme", "mme", "", {"mme_perception_score", "mme_cognition_score"}},
      {"mme", "mme", bench_of("mme"), {"mme_perception_score", "mme_cognition_score"}},
      {"mme_v0.2.4", "mme", "", {"mme_perception_score", "mme_cognition_score"}},
      {"mme_v0.2.4", "mme", bench_of("mme"), {"mme_perception_score", "mme_cognition_score"}},
      {"textvqa_val", "textvqa_val", bench_of("textvqa_val"), {"exact_match"}},
      {"pope", "pope", "", {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio"}},
      {"pope",
       "pope",
       bench_of("pope"),
       {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.folder + (c.bench.empty() ? " from its samples" : " with its benchmark file"));
    const auto log = read_lmms_eval_log(samples_of(c.folder, c.task), results_of(c.folder));
    const auto r = rescore_lmms_eval(log, c.bench);
    EXPECT_EQ(r.questions_from, c.bench.empty() ? "samples" : c.bench);
    EXPECT_TRUE(r.sample_disagreements.empty()) << r.sample_disagreements.size() << " sample disagreement(s)";
    EXPECT_TRUE(r.aggregate_disagreements.empty());
    EXPECT_TRUE(r.agrees());
    ASSERT_EQ(r.scores.size(), log.samples.size());
    std::vector<std::string> names;
    for (const auto& m : r.aggregates) {
      names.push_back(m.name);
      EXPECT_EQ(m.value, log.results.at(m.name)) << m.name;  // bit for bit: same operations, same order
    }
    EXPECT_EQ(names, c.metrics);
  }
  // The samples' own per-sample scores, as parsed by laco: parse_pred_ans and the EvalAI processor.
  const auto mme = rescore_lmms_eval(read_lmms_eval_log(samples_of("mme", "mme"), results_of("mme")));
  std::vector<std::string> parsed;
  for (const auto& s : mme.scores) parsed.push_back(s.parsed);
  EXPECT_EQ(parsed, (std::vector<std::string>{"yes", "no", "yes", "other", "no", "no", "yes", "no"}));
  EXPECT_EQ(mme.questions[3].image_id, "existence/0002.png");
  EXPECT_EQ(mme.questions[3].category, "existence");
  const auto tv = rescore_lmms_eval(
      read_lmms_eval_log(samples_of("textvqa_val", "textvqa_val"), results_of("textvqa_val")), bench_of("textvqa_val"));
  EXPECT_EQ(tv.scores[5].parsed, "john 's");
  EXPECT_EQ(tv.scores[4].parsed, "1000");
}

TEST(LmmsEvalRescore, TextVqaNeedsTheBenchmarkFile) {
  const auto log = read_lmms_eval_log(samples_of("textvqa_val", "textvqa_val"), results_of("textvqa_val"));
  test::expect_error([&] { rescore_lmms_eval(log); },
                     {"_samples_textvqa_val.jsonl", "holds no answers", "\"answer\"", "benchmark file", "doc_ids"});
}

TEST(LmmsEvalRescore, AChangedScoreIsExactlyThatDisagreement) {
  // lmms-eval's score of doc 3 ("The answer is yes" to a "No" question) turned from 0 to 1.
  const auto c = copy_log("lmms_flip", "mme", "mme", [](auto& lines) {
    edit_line(lines, 4, [](json& j) { j["mme_perception_score"]["score"] = 1.0; });
  });
  const auto r = rescore_lmms_eval(read_lmms_eval_log(c.samples, c.results));
  ASSERT_EQ(r.sample_disagreements.size(), 1u);
  const auto& d = r.sample_disagreements[0];
  EXPECT_EQ(d.doc_id, 3);
  EXPECT_EQ(d.line, 4);
  EXPECT_EQ(d.metric, "mme_perception_score");
  EXPECT_EQ(d.lmms_eval, 1.0);
  EXPECT_EQ(d.laco, 0.0);
  EXPECT_TRUE(r.aggregate_disagreements.empty());  // the results file still says 175, as laco does

  // A TextVQA accuracy changed (doc 1: 0.9 -> 0.8), rescored with the benchmark file.
  const auto t = copy_log("lmms_flip_tv", "textvqa_val", "textvqa_val",
                          [](auto& lines) { edit_line(lines, 2, [](json& j) { j["exact_match"] = 0.8; }); });
  const auto rt = rescore_lmms_eval(read_lmms_eval_log(t.samples, t.results), bench_of("textvqa_val"));
  ASSERT_EQ(rt.sample_disagreements.size(), 1u);
  EXPECT_EQ(rt.sample_disagreements[0].doc_id, 1);
  EXPECT_EQ(rt.sample_disagreements[0].metric, "exact_match");
  EXPECT_EQ(rt.sample_disagreements[0].lmms_eval, 0.8);
  EXPECT_EQ(rt.sample_disagreements[0].laco, 0.9);

  // A question counted to the other sum: laco's field is missing from lmms-eval's sample and vice versa.
  const auto m = copy_log("lmms_move", "mme", "mme", [](auto& lines) {
    edit_line(lines, 1, [](json& j) {
      j["mme_cognition_score"] = j["mme_perception_score"];
      j.erase("mme_perception_score");
    });
  });
  const auto rm = rescore_lmms_eval(read_lmms_eval_log(m.samples, m.results));
  ASSERT_EQ(rm.sample_disagreements.size(), 2u);
  EXPECT_EQ(rm.sample_disagreements[0].metric, "mme_perception_score");
  EXPECT_TRUE(std::isnan(rm.sample_disagreements[0].lmms_eval));
  EXPECT_EQ(rm.sample_disagreements[1].metric, "mme_cognition_score");
  EXPECT_TRUE(std::isnan(rm.sample_disagreements[1].laco));
}

TEST(LmmsEvalRescore, AChangedAggregateIsExactlyThatDisagreement) {
  const std::string dir = test::temp_dir("lmms_agg");
  const std::string samples = dir + "/" + kDate + "_samples_pope.jsonl";
  fs::copy_file(samples_of("pope", "pope"), samples);
  std::string results = test::read_file(results_of("pope"));
  const std::string f1 = "\"pope_f1_score,none\": 0.5,";
  ASSERT_NE(results.find(f1), std::string::npos);
  results.replace(results.find(f1), f1.size(), "\"pope_f1_score,none\": 0.5000001,");
  test::write_file(dir + "/" + kDate + "_results.json", results);
  const auto r = rescore_lmms_eval(read_lmms_eval_log(samples, dir + "/" + kDate + "_results.json"));
  EXPECT_TRUE(r.sample_disagreements.empty());
  ASSERT_EQ(r.aggregate_disagreements.size(), 1u);
  EXPECT_EQ(r.aggregate_disagreements[0].metric, "pope_f1_score");
  EXPECT_EQ(r.aggregate_disagreements[0].doc_id, -1);
  EXPECT_EQ(r.aggregate_disagreements[0].lmms_eval, 0.5000001);
  EXPECT_EQ(r.aggregate_disagreements[0].laco, 0.5);
  // The tolerance: summation order only, (n + 1) ulps of the value.
  EXPECT_LT(lmms_eval_aggregate_tolerance(175.0, 175.0, 8), 1e-12);
  EXPECT_GT(lmms_eval_aggregate_tolerance(175.0, 175.0, 8), 175.0 * DBL_EPSILON);
}

TEST(LmmsEvalLog, BadFilesAreNamedByFileLineAndField) {
  // A sample without filtered_resps.
  auto c = copy_log("lmms_bad1", "mme", "mme",
                    [](auto& lines) { edit_line(lines, 2, [](json& j) { j.erase("filtered_resps"); }); });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.samples + ":2: $: missing field 'filtered_resps'", "allowed:"});
  // A line that is not JSON.
  c = copy_log("lmms_bad2", "mme", "mme", [](auto& lines) { lines.at(2) = "{\"doc_id\": 2,"; });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); }, {c.samples + ":3: $: not valid JSON"});
  // A sample with none of the task's metrics.
  c = copy_log("lmms_bad3", "mme", "mme",
               [](auto& lines) { edit_line(lines, 5, [](json& j) { j.erase("mme_perception_score"); }); });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.samples + ":5: $: no per-sample metric field", "mme_cognition_score, mme_perception_score"});
  // A doc_id that is not an integer, and one seen twice.
  c = copy_log("lmms_bad4", "mme", "mme", [](auto& lines) { edit_line(lines, 1, [](json& j) { j["doc_id"] = "0"; }); });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.samples + ":1: $.doc_id: expected an integer"});
  c = copy_log("lmms_bad5", "mme", "mme", [](auto& lines) { edit_line(lines, 8, [](json& j) { j["doc_id"] = 0; }); });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.samples + ":8: $.doc_id: doc_id 0 is also on line 1"});
  // Two responses for one document.
  c = copy_log("lmms_bad6", "mme", "mme", [](auto& lines) {
    edit_line(lines, 2, [](json& j) { j["filtered_resps"] = {"a", "b"}; });
  });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.samples + ":2: $.filtered_resps: expected one response", "a list holding one string"});
  // The samples file's task is not in the results file.
  c = copy_log("lmms_bad7", "mme", "mme", {}, kDate + "_samples_gqa.jsonl");
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.results + ": $.results: no entry for task 'gqa'", c.samples, "allowed: mme"});
  // A line over the line limit.
  {
    const ScopedEnv small("LACO_MAX_LINE_BYTES", "200");
    c = copy_log("lmms_bad8", "mme", "mme");
    test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                       {c.samples + ":1:", "more than the limit of 200 bytes", "LACO_MAX_LINE_BYTES"});
  }
  // A results entry of the wrong type, and a results file that is not lmms-eval's.
  c = copy_log("lmms_bad9", "mme", "mme");
  std::string results = test::read_file(c.results);
  const std::string key = "\"mme_cognition_score,none\": 200.0";
  results.replace(results.find(key), key.size(), "\"mme_cognition_score,none\": \"200\"");
  test::write_file(c.results, results);
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); },
                     {c.results + ": $.results.mme[\"mme_cognition_score,none\"]: expected a number or null"});
  test::write_file(c.results, "{\"config\": {}}");
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); }, {c.results + ": $: missing field 'results'"});
  test::write_file(c.results, "{\"results\": ");
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); }, {c.results + ": not valid JSON"});
  // An empty samples file.
  c = copy_log("lmms_bad10", "mme", "mme", [](auto& lines) { lines.clear(); });
  test::expect_error([&] { read_lmms_eval_log(c.samples, c.results); }, {c.samples + ": holds no samples"});
}

TEST(LmmsEvalRescore, BadQuestionsAreNamedByLineAndField) {
  // MME's per-sample field without its category: acc+ and the sums need it.
  auto c = copy_log("lmms_q1", "mme", "mme", [](auto& lines) {
    edit_line(lines, 3, [](json& j) { j["mme_perception_score"].erase("category"); });
  });
  test::expect_error([&] { rescore_lmms_eval(read_lmms_eval_log(c.samples, c.results)); },
                     {c.samples + ":3: $.mme_perception_score: missing field 'category'"});
  // A benchmark file without the sample's doc_id.
  const std::string dir = test::temp_dir("lmms_q2");
  fs::copy_file(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png", dir + "/a.png");
  std::string bench;
  for (int i = 0; i < 8; ++i)
    if (i != 5)
      bench += fmt::format(R"({{"id": "{}", "image": "a.png", "question": "q", "answers": ["x"]}})", i) + "\n";
  test::write_file(dir + "/bench.jsonl", bench);
  const auto tv = read_lmms_eval_log(samples_of("textvqa_val", "textvqa_val"), results_of("textvqa_val"));
  test::expect_error([&] { rescore_lmms_eval(tv, dir + "/bench.jsonl"); },
                     {samples_of("textvqa_val", "textvqa_val") + ":6: $.doc_id: 5 has no question with id \"5\"",
                      dir + "/bench.jsonl"});
  // A benchmark file whose answer is not the document lmms-eval scored.
  std::string mme = test::read_file(bench_of("mme"));
  const std::string first = "\"answer\": \"Yes\"";
  mme.replace(mme.find(first), first.size(), "\"answer\": \"No\"");
  const std::string mdir = test::temp_dir("lmms_q3");
  std::string moved = mme;  // its images are relative to tests/lmms_eval/mme: make them absolute
  for (size_t at; (at = moved.find("../../checkpoints")) != std::string::npos;)
    moved.replace(at, 17, LACO_SOURCE_DIR "/tests/checkpoints");
  test::write_file(mdir + "/bench.jsonl", moved);
  const auto log = read_lmms_eval_log(samples_of("mme", "mme"), results_of("mme"));
  test::expect_error([&] { rescore_lmms_eval(log, mdir + "/bench.jsonl"); },
                     {samples_of("mme", "mme") + ":1: $.target: \"Yes\" is not the answer of question \"0\"",
                      mdir + "/bench.jsonl:1"});
  // A task laco has no scorer for.
  c = copy_log("lmms_q4", "mme", "mme", {}, kDate + "_samples_mmmu_val.jsonl");
  std::string results = test::read_file(c.results);
  results.replace(results.find("\"mme\": {\n      \"alias\""), 5, "\"mmmu_val\"");
  test::write_file(c.results, results);
  const auto mmmu = read_lmms_eval_log(c.samples, c.results);
  EXPECT_EQ(mmmu.task, "");
  test::expect_error([&] { rescore_lmms_eval(mmmu); },
                     {"lmms-eval task 'mmmu_val' has no laco task type", "textvqa_val"});
}

}  // namespace
}  // namespace laco

namespace laco {
namespace {

// `laco import lmms-eval`: each fixture stored as a benchmark run, marked imported, its aggregates lmms-eval's.
TEST(LmmsEvalImport, EachTaskIsStoredWithLmmsEvalsAggregates) {
  const std::string dir = test::temp_dir("lmms_import");
  const std::string db = dir + "/r.db";
  struct Case {
    std::string folder, task, data, method;
  };
  const std::vector<Case> cases = {{"mme", "mme", "", "none"},
                                   {"pope", "pope", "", "none"},
                                   {"textvqa_val", "textvqa_val", bench_of("textvqa_val"), "laco"},
                                   {"mme_v0.2.4", "mme", "", "pixel_shuffle"}};
  for (const auto& c : cases) {
    const std::string cmd = fmt::format("{} import lmms-eval --samples {} --results {} {} -m {} --encoder-depth 26 "
                                        "--db {}",
                                        LACO_BIN, samples_of(c.folder, c.task), results_of(c.folder),
                                        c.data.empty() ? "" : "--data " + c.data, c.method, db);
    auto r = test::run_command(cmd);
    ASSERT_EQ(r.status, 0) << c.folder << ": " << r.output;
    EXPECT_NE(r.output.find("every question's score and every aggregate agree with lmms-eval's"), std::string::npos)
        << r.output;
    // Imported again: refused, nothing more written.
    r = test::run_command(cmd);
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("were imported before"), std::string::npos) << r.output;
  }
  sql::Connection conn(db, sql::Connection::Mode::kReadOnly);
  EXPECT_EQ(std::get<int64_t>(conn.scalar("SELECT count(*) FROM runs WHERE status = 'done' AND eval = 'benchmark' AND "
                                          "json_extract(config, '$.origin') = 'lmms-eval'")),
            4);
  for (const auto& c : cases) {
    const auto log = read_lmms_eval_log(samples_of(c.folder, c.task), results_of(c.folder));
    auto q = conn.prepare("SELECT key FROM runs WHERE json_extract(config, '$.benchmark_data') = ?");
    q.bind(1, samples_of(c.folder, c.task));
    ASSERT_TRUE(q.step()) << c.folder;
    const std::string key = q.text(0);
    EXPECT_EQ(std::get<int64_t>(conn.scalar("SELECT count(*) FROM responses WHERE run_key = '" + key + "'")),
              static_cast<int64_t>(log.samples.size()));
    // The stored aggregates equal the results file's (which lmms-eval writes unrounded).
    for (const auto& [name, value] : log.results) {
      auto m = conn.prepare("SELECT value FROM metrics WHERE run_key = ? AND name = ?");
      m.bind(1, key).bind(2, "task_" + name);
      ASSERT_TRUE(m.step()) << c.folder << " " << name;
      EXPECT_NEAR(m.real(0), value, lmms_eval_aggregate_tolerance(value, m.real(0), log.samples.size())) << name;
    }
  }
  // laco query shows them as imported.
  const auto r = test::run_command(fmt::format("{} query --db {}", LACO_BIN, db));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("benchmark (lmms-eval)"), std::string::npos) << r.output;
}

TEST(LmmsEvalImport, EveryDisagreementIsPrintedAndKept) {
  const auto c = copy_log("lmms_import_flip", "mme", "mme", [](auto& lines) {
    edit_line(lines, 4, [](json& j) { j["mme_perception_score"]["score"] = 1.0; });
  });
  const std::string db = fs::path(c.samples).parent_path().string() + "/r.db";
  const auto r = test::run_command(fmt::format("{} import lmms-eval --samples {} --results {} -m none --encoder-depth "
                                               "26 --db {}",
                                               LACO_BIN, c.samples, c.results, db));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 disagreement(s)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("doc_id 3 (line 4) mme_perception_score: lmms-eval 1, laco 0"), std::string::npos) << r.output;
  sql::Connection conn(db, sql::Connection::Mode::kReadOnly);
  const json facts = json::parse(sql::to_text(conn.scalar("SELECT extra FROM runs")));
  ASSERT_EQ(facts.at("lmms_eval").at("disagreements").size(), 1u);
  EXPECT_EQ(facts.at("lmms_eval").at("disagreements")[0].at("doc_id"), 3);
}

TEST(LmmsEvalImport, WhatCannotBePlacedOrScoredWritesNothing) {
  const std::string dir = test::temp_dir("lmms_import_bad");
  const std::string db = dir + "/r.db";
  struct Case {
    std::string args;
    std::vector<std::string> said;
  };
  const std::vector<Case> cases = {
      {fmt::format("--samples {} --results {} -m laco", samples_of("mme", "mme"), results_of("mme")),
       {"--encoder-depth", "26"}},
      {fmt::format("--samples {} --results {} -m laco --encoder-depth 26", samples_of("textvqa_val", "textvqa_val"),
                   results_of("textvqa_val")),
       {"benchmark"}},
      {fmt::format("--samples {} --results {} -m laco -l block:40 --encoder-depth 26", samples_of("mme", "mme"),
                   results_of("mme")),
       {"--layer", "block 40", "block:1 .. block:26"}},
      {fmt::format("--samples {} --results {} -m nosuch --encoder-depth 26", samples_of("mme", "mme"), results_of("mme")),
       {"nosuch"}},
  };
  for (const auto& c : cases) {
    const auto r = test::run_command(fmt::format("{} import lmms-eval {} --db {}", LACO_BIN, c.args, db));
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.output;
    for (const auto& s : c.said) EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  EXPECT_FALSE(fs::exists(db)) << "nothing is written before the run is known";
}

}  // namespace
}  // namespace laco
