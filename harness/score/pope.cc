// POPE scored as lmms-eval scores it, so that a laco-bench POPE number and an
// imported lmms-eval one are the same quantity: a response counts only when
// it is exactly "yes" or "no" after lower-casing and stripping, and the five
// aggregates are lmms-eval's functions, quirks included.
//
// Read from lmms-eval @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/pope/utils.py (pope_doc_to_text, pope_process_results,
// pope_aggregate_accuracy / _precision / _recall / _f1_score / _yes_ratio)
// and lmms_eval/tasks/pope/pope.yaml (max_new_tokens 128, the default post_prompt).
//
// Semantics kept from its code, on purpose:
// - no yes/no parsing: "Yes." or "yes, there is" is neither yes nor no, so it
//   scores 0 and is no positive prediction;
// - recall's false negatives are the "yes" questions answered exactly "no":
//   a "yes" question answered otherwise is in neither count;
// - precision, recall and F1 are 0 when their denominator is 0;
// - pope_yes_ratio is the share of questions whose *reference* is "yes" (its
//   code counts ground_truth, not predictions), so it does not move with the
//   model's answers;
// - all five are fractions in 0..1, as its results JSON reports them.
#include "harness/base/error.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

constexpr const char* kTask = "pope";

// pope_doc_to_text with the YAML's default kwargs.
std::string prompt(const TaskQuestion& q) {
  return py_strip(q.question) + kShortAnswerPrompt;
}

std::string reference(const TaskQuestion& q) {
  const std::string gt = py_strip(py_lower(single_answer(q.answers, kTask, q.id)));
  if (gt != "yes" && gt != "no") fail("{} question '{}': answer '{}' is not yes or no", kTask, q.id, q.answers[0]);
  return gt;
}

// pope_process_results: the prediction is the response lower-cased and stripped.
QuestionScore score(const TaskQuestion& q, const std::string& response) {
  QuestionScore s;
  const std::string gt = reference(q);
  s.parsed = py_strip(py_lower(response));
  s.score = s.parsed == gt ? 1.0 : 0.0;
  const nlohmann::json sample = {
      {"question_id", q.id}, {"score", s.score}, {"prediction", s.parsed}, {"ground_truth", gt}};
  for (const char* key : {"pope_accuracy", "pope_precision", "pope_recall", "pope_f1_score", "pope_yes_ratio"})
    s.fields[key] = sample;
  return s;
}

// x / y, or 0 when y is 0 (its `if (...) > 0 else 0`).
double ratio_or_zero(double x, double y) { return y > 0 ? x / y : 0.0; }

std::vector<TaskMetric> aggregate(const std::vector<TaskQuestion>& questions, const std::vector<QuestionScore>& scores) {
  if (questions.size() != scores.size())
    fail("{}: {} questions but {} scores", kTask, questions.size(), scores.size());
  if (questions.empty()) return {};  // lmms-eval reports no metric without samples
  double total = 0;
  int64_t tp = 0, fp = 0, fn = 0, yes = 0, no = 0;
  for (size_t i = 0; i < questions.size(); ++i) {
    const std::string gt = reference(questions[i]);
    const std::string& pred = scores[i].parsed;
    total += scores[i].score;
    if (gt == "yes" && pred == "yes") ++tp;
    if (gt == "no" && pred == "yes") ++fp;
    if (gt == "yes" && pred == "no") ++fn;
    (gt == "yes" ? yes : no) += 1;
  }
  const double accuracy = total / static_cast<double>(questions.size());
  const double precision = ratio_or_zero(static_cast<double>(tp), static_cast<double>(tp + fp));
  const double recall = ratio_or_zero(static_cast<double>(tp), static_cast<double>(tp + fn));
  const double f1 = precision + recall > 0 ? 2 * (precision * recall) / (precision + recall) : 0.0;
  const double yes_ratio = ratio_or_zero(static_cast<double>(yes), static_cast<double>(yes + no));
  return {{"pope_accuracy", accuracy},
          {"pope_precision", precision},
          {"pope_recall", recall},
          {"pope_f1_score", f1},
          {"pope_yes_ratio", yes_ratio}};
}

}  // namespace

TaskType pope_task() {
  TaskType t;
  t.name = kTask;
  t.summary = "POPE: yes/no object hallucination; accuracy, precision, recall, F1 and yes-ratio (fractions)";
  t.lmms_eval = "lmms-eval tasks/pope/utils.py, pope.yaml @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  t.max_new_tokens = 128;
  t.prompt = prompt;
  t.score = score;
  t.aggregate = aggregate;
  t.headline = "pope_f1_score";
  return t;
}

}  // namespace laco
