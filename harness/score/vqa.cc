// VQAv2 and TextVQA scored as lmms-eval scores them (issue 43): the VQA
// accuracy over the ten human answers after the official answer normalisation
// (answer_normalize.h). Written from lmms-eval at commit
// 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/vqav2/{utils.py,_default_template_vqav2_yaml,vqav2_val.yaml},
// lmms_eval/tasks/textvqa/{utils.py,_default_template_textvqa_yaml,textvqa_val.yaml},
// lmms_eval/tasks/_task_utils/vqa_eval_metric.py, lmms_eval/api/task.py
// (process_results strips the response first), lmms_eval/api/metrics.py (mean).
//
// The two tasks normalise differently, as their utils do: VQAv2 applies only
// process_punctuation and process_digit_article (after newlines and tabs to
// spaces and a strip), TextVQA the processor's whole __call__ (word_tokenize
// first: ',' and '?' dropped, "'s" split off). Both always normalise, also
// when the ten answers agree (the official VQA evaluation skips the
// punctuation step then; lmms-eval does not).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/base/error.h"
#include "harness/score/answer_normalize.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

constexpr const char* kSource = "@75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
constexpr const char* kPostPrompt = kShortAnswerPrompt;

// num / den * 2^exp2, correctly rounded to the nearest double (ties to even),
// as float(Fraction) gives it; for 0 < den and num < den * 2^55 (a mean of values in 0..1).
double round_ratio(unsigned __int128 num, uint64_t den, int exp2) {
  if (num == 0) return 0.0;
  // Scale num until the quotient has 55 bits: 53 kept, a rounding bit and one
  // more; the remainder is the rest of the sticky part.
  const unsigned __int128 low = static_cast<unsigned __int128>(den) << 54;
  int shift = 0;
  while (num < low) num <<= 1, ++shift;
  unsigned __int128 q = num / den;
  const bool rest = num % den != 0;
  const unsigned guard = static_cast<unsigned>(q & 3);
  q >>= 2;
  if (guard > 2 || (guard == 2 && (rest || (q & 1)))) ++q;
  return std::ldexp(static_cast<double>(static_cast<uint64_t>(q)), exp2 - shift + 2);
}

// statistics.mean of min(1, k / 3) over each answer's k: Python's mean is the
// exact mean of the floats, rounded once. Each value is 0, fl(1/3), fl(2/3)
// or 1, all whole multiples of 2^-54, so the sum is an exact integer in those units.
double mean_of_thirds(const std::vector<int64_t>& matches) {
  unsigned __int128 sum = 0;
  for (int64_t k : matches) {
    const double acc = std::min(1.0, static_cast<double>(k) / 3.0);
    sum += static_cast<uint64_t>(std::ldexp(acc, 54));  // exact: acc is a multiple of 2^-54
  }
  return round_ratio(sum, static_cast<uint64_t>(matches.size()), -54);
}

// The VQA accuracy of process_results: for each reference answer, the other
// answers (all but that one: VQAv2's answer dicts differ in answer_id, TextVQA
// excludes by index) that equal the response, min(1, that count / 3); the mean.
double vqa_accuracy(const std::vector<std::string>& answers, const std::string& response) {
  int64_t equal = 0;
  for (const auto& a : answers) equal += a == response;
  std::vector<int64_t> matches;
  for (const auto& a : answers) matches.push_back(equal - (a == response ? 1 : 0));
  return mean_of_thirds(matches);
}

std::string vqav2_normalize(const std::string& text) {
  std::string t = text;
  for (char& c : t)
    if (c == '\n' || c == '\t') c = ' ';
  return evalai_process_digit_article(evalai_process_punctuation(py_strip(t)));
}

const std::vector<std::string>& checked_answers(const TaskQuestion& q, const std::string& task) {
  // lmms-eval's statistics.mean raises on an empty list of answers.
  if (q.answers.empty()) fail("{} question '{}': no reference answers (VQA accuracy needs them)", task, q.id);
  return q.answers;
}


TaskType vqav2_task() {
  TaskType t;
  t.name = "vqav2";
  t.summary = "VQAv2 (lmms-eval vqav2_val): VQA accuracy over ten human answers, exact_match in 0..1";
  t.lmms_eval = std::string("lmms-eval tasks/vqav2/utils.py, tasks/_task_utils/vqa_eval_metric.py ") + kSource;
  t.max_new_tokens = 16;  // _default_template_vqav2_yaml generation_kwargs
  t.prompt = [](const TaskQuestion& q) { return q.question + kPostPrompt; };
  t.score = [](const TaskQuestion& q, const std::string& response) {
    std::vector<std::string> answers;
    for (const auto& a : checked_answers(q, "vqav2")) answers.push_back(vqav2_normalize(a));
    QuestionScore s;
    s.parsed = vqav2_normalize(py_strip(response));
    s.score = vqa_accuracy(answers, s.parsed);
    s.fields = {{"exact_match", s.score}};
    return s;
  };
  t.aggregate = [](const std::vector<TaskQuestion>&, const std::vector<QuestionScore>& scores) {
    return std::vector<TaskMetric>{{"exact_match", lmms_mean(score_values(scores), "vqav2")}};
  };
  return t;
}

TaskType textvqa_task() {
  TaskType t;
  t.name = "textvqa";
  t.summary = "TextVQA (lmms-eval textvqa_val): VQA accuracy over ten human answers, exact_match in 0..1";
  t.lmms_eval = std::string("lmms-eval tasks/textvqa/utils.py, tasks/_task_utils/vqa_eval_metric.py ") + kSource;
  // The YAML sets no max_new_tokens (only until: ["ASSISTANT:"]); lmms-eval's
  // llava models then generate up to their default, 1024 (models/simple/llava.py).
  t.max_new_tokens = 1024;
  // doc_to_text: question.capitalize() (first letter up, the rest lower-cased);
  // the OCR-token reference is off ("ocr: false" in the default kwargs).
  t.prompt = [](const TaskQuestion& q) { return py_capitalize(q.question) + kPostPrompt; };
  t.score = [](const TaskQuestion& q, const std::string& response) {
    std::vector<std::string> answers;
    for (const auto& a : checked_answers(q, "textvqa")) answers.push_back(evalai_normalize(a));
    QuestionScore s;
    s.parsed = evalai_normalize(py_strip(response));
    s.score = vqa_accuracy(answers, s.parsed);
    s.fields = {{"exact_match", s.score}};
    return s;
  };
  t.aggregate = [](const std::vector<TaskQuestion>&, const std::vector<QuestionScore>& scores) {
    return std::vector<TaskMetric>{{"exact_match", lmms_mean(score_values(scores), "textvqa")}};
  };
  return t;
}

}  // namespace

std::vector<TaskType> vqa_tasks() { return {vqav2_task(), textvqa_task()}; }

}  // namespace laco
