// Issue 43, a benchmark run: the tiny LLaVA-OneVision checkpoint (random
// weights: its answers are noise; the pipeline, the storage and the scoring
// are not) answers a benchmark file through `laco run --eval benchmark
// --db`; every question is stored once, scored as its task scores it, and a
// run killed with SIGKILL between questions continues at the next one.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "evals/benchmark.h"
#include "evals/benchmark_data.h"
#include "evals/chat.h"
#include "harness/base/build_info.h"
#include "harness/score/task.h"
#include "results/responses.h"
#include "results/schema.h"
#include "results/store.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::mme_file;

std::string run_command_line(const std::string& model, const std::string& data, const std::string& db,
                             const std::string& methods = "none,laco") {
  return fmt::format("OMP_WAIT_POLICY=PASSIVE {} run --eval benchmark --model {} --task mme --data {} -m {} -l 1/4 "
                     "--threads 1 --allow-untrained --db {}",
                     LACO_BIN, model, data, methods, db);
}

// Runs `command -o json` with the records written to `out`; the records, or a failure with the command's output.
json run_json(const std::string& command, const std::string& out) {
  const auto r = test::run_command("(" + command + " -o json > " + out + ")");
  EXPECT_EQ(r.status, 0) << r.output;
  return r.status == 0 ? json::parse(test::read_file(out)) : json::array();
}

int64_t count(sql::Connection& db, const std::string& query) { return std::get<int64_t>(db.scalar(query)); }

TEST(BenchmarkRun, StoresEveryQuestionScoredAsItsTask) {
  const std::string dir = test::temp_dir("benchmark_run");
  const std::string model = test::chat_checkpoint();
  const std::string data = mme_file(dir);
  const json records = run_json(run_command_line(model, data, dir + "/r.db"), dir + "/out.json");
  ASSERT_EQ(records.size(), 2u);

  ResultStore store(dir + "/r.db", false);
  EXPECT_EQ(count(store.db(), "SELECT count(*) FROM runs WHERE eval = 'benchmark' AND status = 'done'"), 2);
  EXPECT_EQ(count(store.db(), "SELECT count(*) FROM response_journal"), 0) << "a done run's journal is emptied";
  const TaskType& task = find_task("mme");
  const Benchmark bench = load_benchmark(data, "mme");
  std::vector<TaskQuestion> questions;
  for (const auto& q : bench.questions) questions.push_back(q.question);
  std::map<std::string, int64_t> visual;
  for (const auto& rec : records) {
    const std::string key = rec.at("config").at("method").get<std::string>() == "none" ? "none" : "laco";
    const RunSpec spec = run_spec_from_json("benchmark", rec.at("config"), "record");
    const auto stored = read_responses(store.db(), spec.key());
    ASSERT_EQ(stored.size(), 6u);
    std::vector<QuestionScore> scores;
    double sum = 0;
    for (size_t i = 0; i < stored.size(); ++i) {
      const Response& s = stored[i];
      EXPECT_EQ(s.id, questions[i].id);
      EXPECT_EQ(s.target, questions[i].answers);
      // The stored parse and score are the task's of the stored text.
      const QuestionScore again = task.score(questions[i], s.response);
      EXPECT_EQ(s.parsed, again.parsed);
      EXPECT_EQ(s.score, again.score);
      EXPECT_EQ(s.fields, again.fields);
      ASSERT_TRUE(s.ttft_ms && s.tpot_ms && s.visual_tokens && s.prompt_tokens && s.output_tokens);
      EXPECT_GT(*s.ttft_ms, 0);
      EXPECT_LE(*s.output_tokens, 16) << "MME's max_new_tokens";
      EXPECT_GT(*s.prompt_tokens, *s.visual_tokens);
      visual[key] += *s.visual_tokens;
      scores.push_back(again);
      sum += again.score;
    }
    // The record's metrics are the stored rows' summary.
    std::map<std::string, double> metrics;
    for (const auto& m : rec.at("metrics")) metrics[m.at("name")] = m.at("value").get<double>();
    EXPECT_DOUBLE_EQ(metrics.at("score"), 100.0 * sum / 6);
    for (const auto& m : task.aggregate(questions, scores))
      EXPECT_DOUBLE_EQ(metrics.at("task_" + m.name), m.value) << m.name;
    EXPECT_EQ(metrics.at("questions"), 6);
    EXPECT_LE(metrics.at("ttft_p50"), metrics.at("ttft_p90"));
    EXPECT_LE(metrics.at("ttft_p90"), metrics.at("ttft_p99"));
    EXPECT_EQ(rec.at("responses").size(), 6u);
  }
  EXPECT_LT(visual["laco"], visual["none"]) << "LaCo at r=2 leaves fewer visual tokens";

  // The same answer as `laco generate`'s path gives for the question alone: one code path.
  RunRequest request;
  request.model = model;
  request.method = "none";
  request.layer = "1";
  request.threads = 1;
  const ChatModel chat = ChatModel::load(request);
  const ChatAnswer a = chat.answer(bench.questions[2].image, task.prompt(questions[2]), task.max_new_tokens);
  const RunSpec none = run_spec_from_json("benchmark", records[0].at("config"), "record");
  ASSERT_EQ(none.method, "none");
  EXPECT_EQ(read_responses(store.db(), none.key())[2].response, a.text);

  // Done: the same command measures nothing again.
  const auto again = test::run_command(run_command_line(model, data, dir + "/r.db"));
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("2 of 2 run(s) were done"), std::string::npos) << again.output;
}

TEST(BenchmarkRun, KilledRunContinuesAtTheNextQuestionWithEveryQuestionOnce) {
  const std::string dir = test::temp_dir("benchmark_kill");
  const std::string model = test::chat_checkpoint();
  const std::string data = mme_file(dir);
  // Uninterrupted, for comparison.
  auto r = test::run_command(run_command_line(model, data, dir + "/whole.db", "laco"));
  ASSERT_EQ(r.status, 0) << r.output;
  // SIGKILL after the second question, then after two more, then to the end.
  const std::string cmd = run_command_line(model, data, dir + "/r.db", "laco");
  r = test::run_command("LACO_FAULT_KILL_AFTER_QUESTIONS=2 " + cmd);
  EXPECT_NE(r.status, 0) << r.output;
  {
    ResultStore store(dir + "/r.db", false);
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM runs WHERE status = 'running'"), 1) << "left by a dead process";
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM response_journal"), 2);
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM responses"), 0);
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM metrics"), 0);
  }
  r = test::run_command("LACO_FAULT_KILL_AFTER_QUESTIONS=2 " + cmd);
  EXPECT_NE(r.status, 0) << r.output;
  {
    ResultStore store(dir + "/r.db", false);
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM response_journal"), 4) << "two more, none twice";
  }
  const json records = run_json(cmd, dir + "/out.json");
  ASSERT_EQ(records.size(), 1u);
  const json rec = records.at(0);
  EXPECT_EQ(rec.at("facts").at("resumed_questions"), 4);

  ResultStore store(dir + "/r.db", false), whole(dir + "/whole.db", false);
  const std::string key = run_spec_from_json("benchmark", rec.at("config"), "record").key();
  EXPECT_EQ(count(store.db(), "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
  EXPECT_EQ(count(store.db(), "SELECT count(*) FROM response_journal"), 0);
  EXPECT_EQ(count(store.db(), "SELECT count(DISTINCT id) FROM responses"), 6) << "every question exactly once";
  const auto resumed = read_responses(store.db(), key), once = read_responses(whole.db(), key);
  ASSERT_EQ(resumed.size(), 6u);
  ASSERT_EQ(once.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    // Greedy decoding of the same run: the same answers whether or not it was killed (the times differ).
    EXPECT_EQ(resumed[i].id, once[i].id);
    EXPECT_EQ(resumed[i].response, once[i].response) << i;
    EXPECT_EQ(resumed[i].score, once[i].score) << i;
    EXPECT_EQ(resumed[i].visual_tokens, once[i].visual_tokens) << i;
  }
}

TEST(BenchmarkRun, AnotherBuildsJournalIsNotReused) {
  const std::string dir = test::temp_dir("benchmark_journal");
  ResultStore store(dir + "/r.db", true);
  store.db().exec("INSERT INTO runs (key, eval, status, config, preset, method, method_options, layer, block_k, depth, "
                  "ratio, seed, created_at, updated_at) VALUES ('k', 'benchmark', 'running', '{}', 'released', 'none', "
                  "'{}', '1', 3, 3, 2, 0, 'now', 'now')");
  StoreJournal journal(store.db());
  Response r;
  r.id = "q1";
  r.response = "Yes";
  r.parsed = "yes";
  r.score = 1;
  r.ttft_ms = 12.5;
  journal.commit("k", 0, r);
  r.id = "q2";
  journal.commit("k", 1, r);
  store.db().exec("UPDATE response_journal SET build = 'another-build' WHERE question = 1");
  const auto found = journal.committed("k");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found.begin()->first, 0);
  EXPECT_EQ(found.begin()->second.id, "q1");
  EXPECT_EQ(found.begin()->second.ttft_ms, 12.5);
  EXPECT_EQ(journal_size(store.db(), "k"), 2);
  // The widened CHECK takes 'benchmark' and still refuses what no evaluation is.
  test::expect_error([&] { store.db().exec("UPDATE runs SET eval = 'bogus' WHERE key = 'k'"); }, {"CHECK"});
}

TEST(BenchmarkRun, BadBenchmarkFilesAreRefusedBeforeAnythingIsWritten) {
  const std::string dir = test::temp_dir("benchmark_bad");
  const std::string model = test::chat_checkpoint();
  const std::string good = mme_file(dir);
  const std::string line = R"({"id": "q1", "image": "image0.png", "question": "Q?", "answer": "Yes", "category": "existence", "image_id": "i0"})";
  struct Case {
    std::string name, text, task;
    std::vector<std::string> said;
  };
  const std::vector<Case> cases = {
      {"missing_image", R"({"id": "q1", "image": "nope.png", "question": "Q?", "answer": "Yes", "image_id": "i0"})", "mme",
       {"bad_missing_image.jsonl:1", "nope.png"}},
      {"missing_field", R"({"id": "q1", "image": "image0.png", "answer": "Yes"})", "mme",
       {"bad_missing_field.jsonl:1", "question"}},
      {"duplicate_id", line + "\n" + line + "\n", "mme", {"bad_duplicate_id.jsonl:2", "q1"}},
      {"unknown_task", line + "\n", "mmmu", {"--task", "mmmu", "allowed: mme, pope"}},
  };
  for (const auto& c : cases) {
    const std::string file = dir + "/bad_" + c.name + ".jsonl";
    test::write_file(file, c.text);
    const std::string db = dir + "/" + c.name + ".db";
    const auto r = test::run_command(fmt::format("{} run --eval benchmark --model {} --task {} --data {} -m none "
                                                 "--db {}",
                                                 LACO_BIN, model, c.task, file, db));
    EXPECT_EQ(r.status, 1) << c.name << ": " << r.output;
    for (const auto& s : c.said) EXPECT_NE(r.output.find(s), std::string::npos) << c.name << ": " << s << "\n" << r.output;
    if (fs::exists(db)) {
      ResultStore store(db, false);
      EXPECT_EQ(count(store.db(), "SELECT count(*) FROM runs"), 0) << c.name;
    }
  }
  // A method that leaves no grid for the anyres packing: refused at resolution, never a failed run.
  const std::string db = dir + "/tome.db";
  const auto r = test::run_command(
      fmt::format("{} run --eval benchmark --model {} --task mme --data {} -m tome -l 1/4 --db {}", LACO_BIN, model, good, db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("method 'tome'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("leaves no grid"), std::string::npos) << r.output;
  if (fs::exists(db)) {
    ResultStore store(db, false);
    EXPECT_EQ(count(store.db(), "SELECT count(*) FROM runs"), 0);
  }
}

// Every task type end to end on the tiny checkpoint: its prompt, generation
// with its max_new_tokens, its scorer and its aggregates, through the
// evaluation's own entry points (no database: nothing to resume).
TEST(BenchmarkRun, EveryTaskTypeRunsEndToEnd) {
  const std::string dir = test::temp_dir("benchmark_tasks");
  const std::string model = test::chat_checkpoint();
  fs::copy_file(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image1.png", dir + "/a.png");
  const std::string ten = R"(["2", "two", "2", "2", "3", "2", "2", "2", "2", "2"])";
  const std::map<std::string, std::string> files = {
      {"mme", R"({"id": "1", "image": "a.png", "question": "Is it red? Please answer yes or no.", "answer": "Yes", "category": "color", "image_id": "a"}
{"id": "2", "image": "a.png", "question": "Is it blue? Please answer yes or no.", "answer": "No", "category": "color", "image_id": "a"})"},
      {"pope", R"({"id": "1", "image": "a.png", "question": "Is there a dog in the image?", "answer": "yes", "category": "adversarial"}
{"id": "2", "image": "a.png", "question": "Is there a cat in the image?", "answer": "no", "category": "adversarial"})"},
      {"mmbench_en", R"({"id": "1", "image": "a.png", "question": "Which animal?", "options": ["cat", "dog", "bird"], "answer": "B", "category": "attribute", "extra": {"index": 1, "hint": "a pet"}}
{"id": "2", "image": "a.png", "question": "Which colour?", "options": ["red", "green"], "answer": "A", "category": "attribute", "extra": {"index": 2}})"},
      {"seedbench", R"({"id": "1", "image": "a.png", "question": "What is shown?", "options": ["a", "b", "c", "d"], "answer": "C", "extra": {"data_type": "image"}})"},
      {"scienceqa_img", R"({"id": "1", "image": "a.png", "question": "Which is a mammal?", "options": ["frog", "whale"], "answer": "B", "extra": {"hint": ""}})"},
      {"vqav2", R"({"id": "1", "image": "a.png", "question": "How many?", "answers": )" + ten + "}"},
      {"textvqa", R"({"id": "1", "image": "a.png", "question": "What number?", "answers": )" + ten + "}"},
      {"gqa", R"({"id": "1", "image": "a.png", "question": "What colour is it?", "answer": "red"})"},
      {"docvqa", R"({"id": "1", "image": "a.png", "question": "What is the date?", "answers": ["1 May", "May 1"]})"},
      {"chartqa", R"({"id": "1", "image": "a.png", "question": "What is the peak?", "answer": "42", "category": "human_test"}
{"id": "2", "image": "a.png", "question": "What is the low?", "answer": "3.5", "category": "augmented_test"})"},
  };
  ASSERT_EQ(files.size(), task_registry().size()) << "one synthetic file per task type";
  for (const auto& task : task_registry()) {
    const std::string path = dir + "/" + task.name + ".jsonl";
    test::write_file(path, files.at(task.name) + "\n");
    BenchmarkConfig c;
    c.model = model;
    c.method = "laco";
    c.layer = "1/4";
    c.allow_untrained = true;  // the pipeline is under test, not the method's training
    c.task = task.name;
    c.data = path;
    c.max_new_tokens = 4;  // random weights never stop: the task's 1024 would only cost time
    c.threads = 1;
    const RunSpec spec = resolve_benchmark_config(c);
    const RunRecord rec = run_benchmark(spec);
    const Benchmark bench = load_benchmark(path, task.name);
    ASSERT_EQ(rec.responses.size(), bench.questions.size()) << task.name;
    std::vector<TaskQuestion> questions;
    std::vector<QuestionScore> scores;
    for (size_t i = 0; i < rec.responses.size(); ++i) {
      questions.push_back(bench.questions[i].question);
      const QuestionScore again = task.score(questions.back(), rec.responses[i].response);
      EXPECT_EQ(rec.responses[i].score, again.score) << task.name;
      EXPECT_EQ(rec.responses[i].parsed, again.parsed) << task.name;
      EXPECT_LE(*rec.responses[i].output_tokens, 4) << task.name;
      scores.push_back(again);
    }
    for (const auto& m : task.aggregate(questions, scores)) {
      const auto v = rec.value("task_" + m.name);
      ASSERT_TRUE(v.has_value()) << task.name << " " << m.name;
      EXPECT_DOUBLE_EQ(*v, m.value) << task.name << " " << m.name;
    }
    EXPECT_TRUE(rec.value("score").has_value()) << task.name;
  }
}

TEST(BenchmarkRun, PercentileIsNumPysLinear) {
  // numpy.percentile([15, 20, 35, 40, 50], [50, 90, 99]) = [35, 46, 49.6]
  EXPECT_DOUBLE_EQ(percentile({40, 15, 50, 35, 20}, 50), 35);
  EXPECT_DOUBLE_EQ(percentile({40, 15, 50, 35, 20}, 90), 46);
  EXPECT_NEAR(percentile({40, 15, 50, 35, 20}, 99), 49.6, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({7}, 99), 7);
  test::expect_error([] { percentile({}, 50); }, {"no values"});
}

}  // namespace
}  // namespace laco
