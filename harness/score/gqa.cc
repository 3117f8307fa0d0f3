// GQA scored as lmms-eval scores it (issue 43). Written from lmms-eval at
// commit 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/gqa/{gqa.yaml,utils.py}, lmms_eval/api/task.py and
// lmms_eval/api/metrics.py.
//
// gqa.yaml has no process_results, so ConfigurableTask.process_results scores
// it: the response stripped, the target doc["answer"] as it is, and the
// exact_match metric (exact_match_hf_evaluate, ported from Hugging Face
// evaluate) with the YAML's ignore_case: true and ignore_punctuation: true and
// nothing else (no regexes_to_ignore, no ignore_numbers): both texts
// lower-cased, then every ASCII punctuation character (Python's
// string.punctuation) deleted, then compared whole. No whitespace is
// normalised after the punctuation goes ("yes ." becomes "yes ", not "yes"),
// and the reference is never stripped.
#include <string>
#include <vector>

#include "harness/base/error.h"
#include "harness/score/answer_normalize.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

// exact_match_hf_evaluate's ignore_case, then ignore_punctuation.
std::string exact_match_normalize(const std::string& text) {
  static const std::string punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";  // string.punctuation
  std::string out;
  for (char c : py_lower(text))
    if (punctuation.find(c) == std::string::npos) out.push_back(c);  // ASCII bytes only: UTF-8 safe
  return out;
}

}  // namespace

TaskType gqa_task() {
  TaskType t;
  t.name = "gqa";
  t.summary = "GQA testdev-balanced (lmms-eval gqa): exact match ignoring case and punctuation, in 0..1";
  t.lmms_eval = "lmms-eval tasks/gqa/gqa.yaml, api/metrics.py exact_match @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  t.max_new_tokens = 16;  // gqa.yaml generation_kwargs
  t.prompt = [](const TaskQuestion& q) { return q.question + kShortAnswerPrompt; };
  t.score = [](const TaskQuestion& q, const std::string& response) {
    if (q.answers.empty()) fail("gqa question '{}': no reference answer", q.id);
    QuestionScore s;
    s.parsed = exact_match_normalize(py_strip(response));
    s.score = s.parsed == exact_match_normalize(q.answers.front()) ? 1.0 : 0.0;
    s.fields = {{"exact_match", s.score}};
    return s;
  };
  t.aggregate = [](const std::vector<TaskQuestion>&, const std::vector<QuestionScore>& scores) {
    return std::vector<TaskMetric>{{"exact_match", lmms_mean(score_values(scores), "gqa")}};
  };
  return t;
}

}  // namespace laco
