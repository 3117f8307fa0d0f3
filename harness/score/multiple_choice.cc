// The multiple-choice tasks (MMBench-EN dev, SEED-Bench, ScienceQA-IMG)
// scored as lmms-eval scores them, so that a laco-bench number and an
// imported lmms-eval one are the same quantity. The three tasks read the
// option letter from a response in three different ways, each kept as its
// code has it: a response one task scores right can be wrong for another
// ("(B)" is right for MMBench, wrong for SEED-Bench and ScienceQA).
//
// Read from lmms-eval @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// - lmms_eval/tasks/mmbench/en_utils.py (mmbench_doc_to_text,
//   mmbench_process_results, mmbench_aggregate_dev_results_static),
//   mmbench_evals.py (MMBench_Evaluator: create_options_prompt, build_choices,
//   can_infer, eval_sub_data, eval_result), _default_template_mmbench_en_yaml,
//   mmbench_en_dev_static.yaml, mmbench.yaml (sys_prompt) and
//   lmms_eval/tasks/_task_utils/mcq_extract.py (extract_mcq_answer);
// - lmms_eval/tasks/seedbench/utils.py and seedbench.yaml;
// - lmms_eval/tasks/scienceqa/utils.py and scienceqa_img.yaml.
//
// MMBench: lmms-eval's mmbench_en_dev asks GPT for the letter when its own
// matching fails; its mmbench_en_dev_static (same prompt, same metric name
// "gpt_eval_score") replaces GPT with extract_mcq_answer. This file follows
// the static path, the one lmms-eval computes without an API: (1) can_infer:
// can_infer_option (a letter A-E as a word, bare or decorated), else
// can_infer_text (exactly one option text inside the response, case
// ignored); (2) when both fail, extract_mcq_answer over the present options'
// letters. The aggregate is its CircularEval: a question whose index is
// below 1e6 counts right only if it and every circular variant (index mod 1e6
// equal to its own) is right; variants without their main question are not
// counted; gpt_eval_score = 100 x the share of main questions right.
//
// SEED-Bench: the first character of the stripped response, compared with the
// answer letter case-insensitively; seed_image / seed_video / seed_all in 0..1.
// ScienceQA-IMG: the response equals the letter (case ignored), or starts with
// an upper-case letter and '.'; exact_match in 0..1.
//
// Benchmark-file conventions (TaskQuestion): answers holds the answer's
// letter; options the option texts in letter order; extra may hold "hint"
// (MMBench, ScienceQA), "index" (MMBench's circular index; else an integer id
// is used), "data_type" (SEED-Bench: "image" when absent), and MMBench's
// "source", "split", "L2-category" (copied into its per-sample fields only).
#include <cstdint>
#include <map>
#include <optional>

#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

constexpr const char* kAnswerWithLetter = "\nAnswer with the option's letter from the given choices directly.";

// A string field of `extra`, nullopt when absent or null; an Error for another type.
std::optional<std::string> extra_string(const TaskQuestion& q, const std::string& key, const std::string& task) {
  const auto it = q.extra.find(key);
  if (it == q.extra.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) fail("{} question '{}': field '{}' must be a string", task, q.id, key);
  return it->get<std::string>();
}

// The reference letter, checked to name one of the options.
std::string answer_letter(const TaskQuestion& q, const std::string& task) {
  const std::string& answer = single_answer(q.answers, task, q.id);
  if (!answer_letter_index(answer, q.options.size()))
    fail("{} question '{}': answer '{}' is not the letter of one of its {} options", task, q.id, answer,
         q.options.size());
  return answer;
}

// lmms_mean of the scores of the questions `which` names, in their order.
double mean_score(const std::vector<QuestionScore>& scores, const std::vector<size_t>& which, const std::string& task) {
  std::vector<double> values;
  for (size_t i : which) values.push_back(scores[i].score);
  return lmms_mean(values, task);
}

void check_sizes(const std::string& task, const std::vector<TaskQuestion>& questions,
                 const std::vector<QuestionScore>& scores) {
  if (questions.size() != scores.size())
    fail("{}: {} questions but {} scores", task, questions.size(), scores.size());
}

// ---- MMBench-EN (dev) -------------------------------------------------------

constexpr const char* kMmbench = "mmbench_en";
constexpr int64_t kCircular = 1000000;  // its int(1e6)

// mmbench_doc_to_text with the default kwargs: "<hint> <question> There are
// several options:\nA. ..\nB. .." (no hint when it is absent or "nan"), then
// "\n" and the post-prompt, which itself starts with "\n".
std::string mmbench_prompt(const TaskQuestion& q) {
  if (q.options.size() > 5)
    fail("{} question '{}': {} options; MMBench's prompt has A-E", kMmbench, q.id, q.options.size());
  std::string options = "There are several options:\n";
  for (size_t i = 0; i < q.options.size(); ++i)
    if (!option_is_absent(q.options[i])) options += option_letter(i) + ". " + q.options[i] + "\n";
  while (!options.empty() && options.back() == '\n') options.pop_back();  // rstrip("\n")
  const auto hint = extra_string(q, "hint", kMmbench);
  const std::string query =
      hint && *hint != "nan" ? *hint + " " + q.question + " " + options : q.question + " " + options;
  return query + "\n" + kAnswerWithLetter;
}

// build_choices: the present options among A-D (E is never among them).
std::vector<std::pair<std::string, std::string>> mmbench_choices(const TaskQuestion& q) {
  std::vector<std::pair<std::string, std::string>> choices;
  for (size_t i = 0; i < q.options.size() && i < 4; ++i)
    if (!option_is_absent(q.options[i])) choices.emplace_back(option_letter(i), q.options[i]);
  return choices;
}

// The letter the static path reads from a response ("" when none).
std::string mmbench_letter(const TaskQuestion& q, const std::string& prediction) {
  const auto choices = mmbench_choices(q);
  std::string letter = mmbench_infer_option(prediction);
  if (letter.empty()) letter = mmbench_infer_text(prediction, choices);
  if (letter.empty()) {
    std::vector<std::string> letters;
    for (const auto& c : choices) letters.push_back(c.first);
    letter = extract_mcq_answer(prediction, letters);
  }
  return letter;
}

QuestionScore mmbench_score(const TaskQuestion& q, const std::string& response) {
  const std::string gt = answer_letter(q, kMmbench);
  QuestionScore s;
  const std::string prediction = py_strip(response);  // mmbench_process_results strips
  s.parsed = mmbench_letter(q, prediction);
  s.score = s.parsed == gt ? 1.0 : 0.0;
  nlohmann::json sample = {{"question", q.question}, {"answer", gt}, {"prediction", prediction},
                           {"category", q.category}};
  const auto index = q.extra.find("index");
  sample["index"] = index != q.extra.end() ? *index : nlohmann::json(q.id);
  for (const char* key : {"hint", "source", "split", "L2-category"}) {
    const auto it = q.extra.find(key);
    sample[key] = it != q.extra.end() ? *it : nlohmann::json(nullptr);
  }
  for (size_t i = 0; i < 5; ++i) sample[option_letter(i)] = i < q.options.size() ? q.options[i] : "nan";
  s.fields["gpt_eval_score"] = sample;
  s.fields["submission"] = sample;
  return s;
}

// Its index: extra "index" (an integer), else the id when it is one.
std::optional<int64_t> mmbench_index(const TaskQuestion& q) {
  const auto it = q.extra.find("index");
  if (it != q.extra.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0)
      fail("{} question '{}': field 'index' must be an integer >= 0", kMmbench, q.id);
    return it->get<int64_t>();
  }
  const auto id = parse_int(q.id);
  return id && *id >= 0 ? id : std::nullopt;
}

std::vector<TaskMetric> mmbench_aggregate(const std::vector<TaskQuestion>& questions,
                                          const std::vector<QuestionScore>& scores) {
  check_sizes(kMmbench, questions, scores);
  std::vector<std::optional<int64_t>> index(questions.size());
  for (size_t i = 0; i < questions.size(); ++i) index[i] = mmbench_index(questions[i]);
  // index mod 1e6 -> whether every question of that circular group is right.
  std::map<int64_t, bool> group_right;
  for (size_t i = 0; i < questions.size(); ++i)
    if (index[i]) {
      auto it = group_right.emplace(*index[i] % kCircular, true).first;
      if (scores[i].score != 1.0) it->second = false;
    }
  int64_t hit = 0, main = 0;
  for (size_t i = 0; i < questions.size(); ++i) {
    if (index[i] && *index[i] >= kCircular) continue;  // a circular variant: counted with its main question
    ++main;
    // No index: a question of its own.
    const bool right = index[i] ? group_right.at(*index[i])
                                : scores[i].score == 1.0;
    hit += right ? 1 : 0;
  }
  if (main == 0) return {};  // lmms-eval's mean over no main question is NaN: nothing to report
  return {{"gpt_eval_score", static_cast<double>(hit) / static_cast<double>(main) * 100}};
}

TaskType mmbench_task() {
  TaskType t;
  t.name = kMmbench;
  t.summary = "MMBench-EN dev: multiple choice, lmms-eval's static matching, CircularEval; gpt_eval_score in 0..100";
  t.lmms_eval = "lmms-eval tasks/mmbench/en_utils.py, mmbench_evals.py, _task_utils/mcq_extract.py "
                "@75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  t.max_new_tokens = 1024;
  t.needs_options = true;
  t.prompt = mmbench_prompt;
  t.score = mmbench_score;
  t.aggregate = mmbench_aggregate;
  return t;
}

// ---- SEED-Bench -------------------------------------------------------------

constexpr const char* kSeed = "seedbench";

// seed_doc_to_text: the question, "\nA. ..\nB. ..\nC. ..\nD. .." and the letter instruction.
std::string seed_prompt(const TaskQuestion& q) {
  if (q.options.size() != 4) fail("{} question '{}': {} options; SEED-Bench has four", kSeed, q.id, q.options.size());
  std::string text = q.question;
  for (size_t i = 0; i < 4; ++i) text += "\n" + option_letter(i) + ". " + q.options[i];
  return text + kAnswerWithLetter;
}

std::string seed_type(const TaskQuestion& q) { return extra_string(q, "data_type", kSeed).value_or("image"); }

// seed_process_result: the stripped response, cut to its first character;
// seed_aggregation_result compares it lower-cased and stripped with the answer.
QuestionScore seed_score(const TaskQuestion& q, const std::string& response) {
  const std::string gt = answer_letter(q, kSeed);
  QuestionScore s;
  std::string pred = py_strip(response);
  if (py_len(pred) > 1) pred = first_code_point(pred);
  s.parsed = pred;
  s.score = py_strip(py_lower(pred)) == py_strip(py_lower(gt)) ? 1.0 : 0.0;
  const nlohmann::json sample = {{"pred", pred}, {"answer", gt}, {"question_id", q.id}};
  s.fields["seed_" + seed_type(q)] = sample;
  s.fields["seed_all"] = sample;
  return s;
}

// seed_aggregation_result per metric: correct / count (0..1). Only seed_image,
// seed_video and seed_all are in its metric list; another data_type counts to seed_all alone.
std::vector<TaskMetric> seed_aggregate(const std::vector<TaskQuestion>& questions,
                                       const std::vector<QuestionScore>& scores) {
  check_sizes(kSeed, questions, scores);
  std::vector<size_t> image, video, all;
  for (size_t i = 0; i < questions.size(); ++i) {
    const std::string type = seed_type(questions[i]);
    if (type == "image") image.push_back(i);
    if (type == "video") video.push_back(i);
    all.push_back(i);
  }
  std::vector<TaskMetric> out;
  if (!image.empty()) out.push_back({"seed_image", mean_score(scores, image, kSeed)});
  if (!video.empty()) out.push_back({"seed_video", mean_score(scores, video, kSeed)});
  if (!all.empty()) out.push_back({"seed_all", mean_score(scores, all, kSeed)});
  return out;
}

TaskType seed_task() {
  TaskType t;
  t.name = kSeed;
  t.summary = "SEED-Bench: multiple choice, the response's first character; seed_image, seed_video, seed_all in 0..1";
  t.lmms_eval = "lmms-eval tasks/seedbench/utils.py, seedbench.yaml @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  // seedbench.yaml sets no max_new_tokens: the model's default applies, 1024 in
  // lmms-eval's llava and llava_onevision models.
  t.max_new_tokens = 1024;
  t.needs_options = true;
  t.prompt = seed_prompt;
  t.score = seed_score;
  t.aggregate = seed_aggregate;
  return t;
}

// ---- ScienceQA-IMG ----------------------------------------------------------

constexpr const char* kScienceQa = "scienceqa_img";

// sqa_doc_to_text, format "default": "Context: <hint>\n" when the hint is not
// empty, the question, "\n", the options "A. ..\nB. .." and the post-prompt.
std::string sqa_prompt(const TaskQuestion& q) {
  const std::string hint = extra_string(q, "hint", kScienceQa).value_or("");
  const std::string context = hint.empty() ? "" : "Context: " + hint + "\n";
  std::vector<std::string> options;
  for (size_t i = 0; i < q.options.size(); ++i) options.push_back(option_letter(i) + ". " + q.options[i]);
  return context + q.question + "\n" + join(options, "\n") + kAnswerWithLetter;
}

// sqa_process_results: right when the stripped response equals the letter
// (case ignored), or starts with an upper-case letter and '.' and that letter
// is the answer; anything else is wrong ("(B)", "b. cat", "The answer is B").
QuestionScore sqa_score(const TaskQuestion& q, const std::string& response) {
  const std::string target = py_strip(py_lower(answer_letter(q, kScienceQa)));
  const std::string pred = py_strip(response);
  const bool upper_dot = py_len(pred) >= 2 && pred[0] >= 'A' && pred[0] <= 'Z' && pred[1] == '.';
  QuestionScore s;
  if (py_lower(pred) == target)
    s.score = 1.0;
  else if (upper_dot)
    s.score = py_lower(pred.substr(0, 1)) == target ? 1.0 : 0.0;
  // The letter the rule read, for display: a one-letter response, or the "X." prefix.
  if (pred.size() == 1 && py_isalpha(static_cast<unsigned char>(pred[0])))
    s.parsed = std::string(1, static_cast<char>(pred[0] & ~0x20));
  else if (upper_dot)
    s.parsed = pred.substr(0, 1);
  s.fields["exact_match"] = s.score;
  return s;
}

std::vector<TaskMetric> sqa_aggregate(const std::vector<TaskQuestion>& questions,
                                      const std::vector<QuestionScore>& scores) {
  check_sizes(kScienceQa, questions, scores);
  if (questions.empty()) return {};
  return {{"exact_match", lmms_mean(score_values(scores), kScienceQa)}};
}

TaskType sqa_task() {
  TaskType t;
  t.name = kScienceQa;
  t.summary = "ScienceQA-IMG: multiple choice, the letter alone or 'X.'; exact_match in 0..1";
  t.lmms_eval = "lmms-eval tasks/scienceqa/utils.py, scienceqa_img.yaml @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  t.max_new_tokens = 16;
  t.needs_options = true;
  t.prompt = sqa_prompt;
  t.score = sqa_score;
  t.aggregate = sqa_aggregate;
  return t;
}

}  // namespace

std::vector<TaskType> multiple_choice_tasks() { return {mmbench_task(), seed_task(), sqa_task()}; }

}  // namespace laco
