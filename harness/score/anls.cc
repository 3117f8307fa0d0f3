// DocVQA (ANLS) and ChartQA (relaxed accuracy) scored as lmms-eval scores
// them (issue 43). Written from lmms-eval at commit
// 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/docvqa/{utils.py,_default_template_docvqa_yaml,docvqa_val.yaml},
// lmms_eval/tasks/chartqa/{utils.py,chartqa.yaml}, lmms_eval/api/metrics.py
// (anls, levenshtein_distance; mean is lmms_mean) and lmms_eval/api/task.py (the response
// is stripped before scoring; docvqa_val has no process_results, so the anls
// metric gets all the references of doc["answers"] at once).
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "harness/base/error.h"
#include "harness/score/answer_normalize.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

constexpr const char* kSource = "@75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";

// " ".join(text.strip().lower().split()): what ANLS compares.
std::string anls_normalize(const std::string& text) {
  std::string out;
  for (const auto& w : py_split(py_lower(text))) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

// metrics.py anls for one question: per reference, the edit distance of the
// normalised texts over the longer of the two *raw* texts' len(upper())
// (the reference unstripped, its inner whitespace uncollapsed); 1 minus the
// smallest such ratio; below the threshold 0.5 it counts 0 (0.5 itself stays).
double anls(const std::vector<std::string>& references, const std::string& prediction) {
  const std::string det = anls_normalize(prediction);
  const size_t det_length = py_upper_length(prediction);
  double smallest = 0;
  for (size_t i = 0; i < references.size(); ++i) {
    const size_t dist = levenshtein(anls_normalize(references[i]), det);
    const size_t length = std::max(py_upper_length(references[i]), det_length);
    const double v = length == 0 ? 0.0 : static_cast<double>(dist) / static_cast<double>(length);
    smallest = i == 0 ? v : std::min(smallest, v);
  }
  const double result = 1 - smallest;
  return result < 0.5 ? 0.0 : result;
}

// chartqa utils.py _to_float: a trailing run of '%' is a percentage (divided by 100).
std::optional<double> chartqa_float(const std::string& text) {
  if (!text.empty() && text.back() == '%') {
    std::string number = text;
    while (!number.empty() && number.back() == '%') number.pop_back();  // rstrip("%")
    const auto v = py_float(number);
    if (!v) return std::nullopt;
    return *v / 100.0;
  }
  return py_float(text);
}

// relaxed_correctness (from Qwen-VL's evaluate_vqa.py): numbers within 5% of
// a non-zero target (relative to the target), else a case-insensitive exact
// match. A target of 0 (falsy in Python) or a non-number on either side falls
// to the string comparison; a NaN target is truthy and never within 5%.
bool relaxed_correctness(const std::string& prediction, const std::string& target) {
  const auto p = chartqa_float(prediction);
  const auto t = chartqa_float(target);
  if (p && t && *t != 0.0) return std::fabs(*p - *t) / std::fabs(*t) <= 0.05;
  return py_lower(prediction) == py_lower(target);
}


TaskType docvqa_task() {
  TaskType t;
  t.name = "docvqa";
  t.summary = "DocVQA validation (lmms-eval docvqa_val): ANLS (threshold 0.5) over all accepted answers, in 0..1";
  t.lmms_eval = std::string("lmms-eval tasks/docvqa/utils.py, api/metrics.py anls ") + kSource;
  t.max_new_tokens = 32;  // _default_template_docvqa_yaml generation_kwargs
  t.prompt = [](const TaskQuestion& q) { return q.question + kShortAnswerPrompt; };
  t.score = [](const TaskQuestion& q, const std::string& response) {
    // min() of no values raises in lmms-eval.
    if (q.answers.empty()) fail("docvqa question '{}': no reference answers (ANLS needs them)", q.id);
    const std::string prediction = py_strip(response);
    QuestionScore s;
    s.parsed = anls_normalize(prediction);
    s.score = anls(q.answers, prediction);
    s.fields = {{"anls", s.score}};
    return s;
  };
  t.aggregate = [](const std::vector<TaskQuestion>&, const std::vector<QuestionScore>& scores) {
    return std::vector<TaskMetric>{{"anls", lmms_mean(score_values(scores), "docvqa")}};
  };
  return t;
}

// ChartQA's split is doc["type"]: "human_test" or "augmented_test" (any other value counts as augmented, as utils.py has it).
bool is_human(const TaskQuestion& q) { return q.category == "human_test"; }

TaskType chartqa_task() {
  TaskType t;
  t.name = "chartqa";
  t.summary =
      "ChartQA test (lmms-eval chartqa): relaxed accuracy (numbers within 5%, else exact), overall and per split "
      "(category human_test / augmented_test), in 0..1";
  t.lmms_eval = std::string("lmms-eval tasks/chartqa/utils.py ") + kSource;
  t.max_new_tokens = 16;  // chartqa.yaml generation_kwargs
  t.prompt = [](const TaskQuestion& q) { return q.question + "\nAnswer the question with a single word."; };
  t.score = [](const TaskQuestion& q, const std::string& response) {
    if (q.answers.empty()) fail("chartqa question '{}': no reference answer", q.id);
    QuestionScore s;
    s.parsed = py_strip(response);
    s.score = relaxed_correctness(s.parsed, q.answers.front()) ? 1.0 : 0.0;
    s.fields = {{"relaxed_overall", s.score}, {is_human(q) ? "relaxed_human_split" : "relaxed_augmented_split", s.score}};
    return s;
  };
  t.aggregate = [](const std::vector<TaskQuestion>& questions, const std::vector<QuestionScore>& scores) {
    if (scores.empty()) fail("chartqa: no questions to aggregate");
    if (questions.size() != scores.size())
      fail("chartqa: {} questions but {} scores to aggregate", questions.size(), scores.size());
    std::vector<double> all, human, augmented;
    for (size_t i = 0; i < scores.size(); ++i) {
      all.push_back(scores[i].score);
      (is_human(questions[i]) ? human : augmented).push_back(scores[i].score);
    }
    // A split without questions has no samples of its metric: lmms-eval reports no value for it.
    std::vector<TaskMetric> out = {{"relaxed_overall", lmms_mean(all, "chartqa")}};
    if (!human.empty()) out.push_back({"relaxed_human_split", lmms_mean(human, "chartqa")});
    if (!augmented.empty()) out.push_back({"relaxed_augmented_split", lmms_mean(augmented, "chartqa")});
    return out;
  };
  return t;
}

}  // namespace

std::vector<TaskType> anls_tasks() { return {docvqa_task(), chartqa_task()}; }

}  // namespace laco
