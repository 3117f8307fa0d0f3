// Issue 43, a benchmark file: each line checked for its task type, every
// problem named by file:line, nothing run when one is found; --limit keeps
// the first questions, as lmms-eval's does.
#include <gtest/gtest.h>

#include <filesystem>

#include "evals/benchmark_data.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

// A folder with one image and `lines` as bench.jsonl; returns the JSONL's path.
std::string bench_file(const std::string& name, const std::string& lines) {
  const std::string dir = test::temp_dir(name);
  fs::create_directories(dir + "/images");
  fs::copy_file(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image0.png", dir + "/images/a.png",
                fs::copy_options::overwrite_existing);
  test::write_file(dir + "/bench.jsonl", lines);
  return dir + "/bench.jsonl";
}

TEST(BenchmarkData, ReadsEachKindOfQuestion) {
  const auto path = bench_file("bench_ok",
                               R"({"id": "q1", "image": "images/a.png", "question": "Is there a dog?", "answer": "Yes", "category": "existence"})"
                               "\n\n"
                               R"({"id": 2, "image": "images/a.png", "question": "Is there a cat?", "answer": "No", "category": "existence", "image_id": "a"})"
                               "\r\n");
  const Benchmark b = load_benchmark(path, "mme");
  ASSERT_EQ(b.questions.size(), 2u);
  EXPECT_EQ(b.total, 2);
  EXPECT_EQ(b.task, "mme");
  EXPECT_EQ(b.sha256.size(), 64u);
  EXPECT_EQ(b.questions[0].question.id, "q1");
  EXPECT_EQ(b.questions[0].question.answers, std::vector<std::string>{"Yes"});
  EXPECT_EQ(b.questions[0].question.image_id, "images/a.png");  // default: the image's path as written
  EXPECT_EQ(b.questions[0].image, fs::path(path).parent_path().string() + "/images/a.png");
  EXPECT_EQ(b.questions[0].line, 1);
  EXPECT_EQ(b.questions[1].question.id, "2");
  EXPECT_EQ(b.questions[1].question.image_id, "a");
  EXPECT_EQ(b.questions[1].line, 3);

  const auto vqa = bench_file("bench_vqa", R"({"id": "v", "image": "images/a.png", "question": "How many?", "answers": ["2", "two", "2", "2", "3", "2", "2", "2", "2", "2"]})"
                                           "\n");
  EXPECT_EQ(load_benchmark(vqa, "vqav2").questions[0].question.answers.size(), 10u);
  const auto mc = bench_file("bench_mc", R"({"id": "m", "image": "images/a.png", "question": "Which?", "options": ["cat", "dog", "bird"], "answer": "C", "extra": {"hint": "pets"}})"
                                         "\n");
  const Benchmark m = load_benchmark(mc, "mmbench_en");
  EXPECT_EQ(m.questions[0].question.options.size(), 3u);
  EXPECT_EQ(m.questions[0].question.extra.at("hint"), "pets");
}

TEST(BenchmarkData, LimitKeepsTheFirstQuestions) {
  std::string lines;
  for (int i = 0; i < 5; ++i)
    lines += R"({"id": ")" + std::to_string(i) + R"(", "image": "images/a.png", "question": "q", "answer": "yes"})" + "\n";
  const auto path = bench_file("bench_limit", lines);
  const Benchmark b = load_benchmark(path, "pope", 3);
  EXPECT_EQ(b.total, 5);
  ASSERT_EQ(b.questions.size(), 3u);
  EXPECT_EQ(b.questions[2].question.id, "2");
  EXPECT_EQ(load_benchmark(path, "pope", 9).questions.size(), 5u);
  test::expect_error([&] { load_benchmark(path, "pope", -1); }, {"--limit", ">= 0"});
}

TEST(BenchmarkData, EveryProblemIsNamedByFileAndLine) {
  const auto path = bench_file(
      "bench_bad",
      R"({"id": "a", "image": "images/a.png", "question": "q", "answer": "yes"})"
      "\n"
      R"({"id": "a", "image": "images/a.png", "question": "q", "answer": "yes"})"
      "\n"
      R"({"id": "b", "image": "images/missing.png", "question": "q", "answer": "yes"})"
      "\n"
      R"({"id": "c", "image": "images/a.png", "answer": "yes"})"
      "\n"
      R"({"id": "d", "image": "images/a.png", "question": "q", "answer": "yes", "answers": ["yes"]})"
      "\n"
      R"({"id": "e", "image": "images/a.png", "question": "q", "answer": "yes", "colour": "red"})"
      "\n"
      "{not json\n");
  test::expect_error([&] { load_benchmark(path, "mme"); },
                     {"6 problem(s) in " + path + "; nothing was run", path + ":2: duplicate id 'a'",
                      path + ":3: image 'images/missing.png'", "is not there", path + ":4: missing field 'question'",
                      path + ":5: needs exactly one of 'answer'", path + ":6: unknown field 'colour'",
                      path + ":7: not valid JSON"});
  const auto mc = bench_file("bench_mc_bad", R"({"id": "m", "image": "images/a.png", "question": "Which?", "answer": "C"})"
                                             "\n"
                                             R"({"id": "n", "image": "images/a.png", "question": "Which?", "options": ["x", "y"], "answer": "C"})"
                                             "\n");
  test::expect_error([&] { load_benchmark(mc, "mmbench_en"); },
                     {mc + ":1: task 'mmbench_en' is multiple choice: field 'options' is required",
                      mc + ":2: task 'mmbench_en': 'answer' must be the letter of an option (A..B), got 'C'"});
  test::expect_error([&] { load_benchmark(mc, "nocaps"); }, {"--task: unknown task type 'nocaps'", "allowed: mme"});
  const auto empty = bench_file("bench_empty", "\n\n");
  test::expect_error([&] { load_benchmark(empty, "mme"); }, {"holds no questions"});
}

}  // namespace
}  // namespace laco
