// MME scored as lmms-eval scores it, so that a laco-bench MME number and an
// imported lmms-eval one are the same quantity: yes/no answers parsed by its
// parse_pred_ans, two questions per image, per category acc + acc+ (0..200),
// and the perception (10 categories, at most 2000) and cognition (4
// categories, at most 800) sums.
//
// Read from lmms-eval @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 (2026-08-06):
// lmms_eval/tasks/mme/utils.py (mme_doc_to_text, parse_pred_ans,
// mme_process_results, mme_aggregate_results, eval_type_dict) and
// lmms_eval/tasks/mme/mme.yaml (max_new_tokens 16, the default post_prompt).
//
// Metric names: lmms-eval reports "mme_perception_score" since its commit
// bb3fd824 (2024-11-05, "Fix 'percetion' typo", in every release from v0.3.0);
// results files of older versions say "mme_percetion_score" for the same
// number (an importer of such files must map that name to this one).
//
// Semantics kept from its code, on purpose:
// - a category that is not one of the ten perception categories counts to
//   cognition (mme_process_results tests membership in the perception list only);
// - a sum runs over the categories present: a missing category adds nothing
//   (it is not a zero among fixed ones), and a sum with no question at all is
//   not reported (lmms-eval aggregates only metrics some sample produced);
// - lmms-eval's question_id is the image (its MME docs give both questions of
//   an image one question_id); here that is TaskQuestion::image_id, and the
//   per-sample field "question_id" holds it;
// - every image must have exactly two questions in its category (its assert);
//   a subset that splits a pair is an error, as it is in lmms-eval.
#include <map>

#include "harness/base/error.h"
#include "harness/score/answer_parsing.h"
#include "harness/score/task.h"

namespace laco {
namespace {

constexpr const char* kTask = "mme";
constexpr const char* kPerception = "mme_perception_score";
constexpr const char* kCognition = "mme_cognition_score";

// eval_type_dict["Perception"]; everything else is cognition.
bool is_perception(const std::string& category) {
  static const std::vector<std::string> kPerceptionCategories = {
      "existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark", "artwork", "OCR"};
  for (const auto& c : kPerceptionCategories)
    if (c == category) return true;
  return false;
}

// parse_pred_ans: lower-case, strip, drop every '.'; "yes"/"no" as they are;
// one character: "y" yes, "n" no, else other; longer: "yes" within the first
// four characters, else "no" within them, else other. So "Yes, it is." is yes,
// "Not sure" is no (its "no"), "The answer is yes" is other.
std::string parse_yes_no(const std::string& response) {
  const std::string pred = py_replace(py_strip(py_lower(response)), ".", "");
  if (pred == "yes" || pred == "no") return pred;
  if (py_len(pred) == 1) return pred == "y" ? "yes" : pred == "n" ? "no" : "other";
  const std::string prefix = py_prefix(pred, 4);
  if (prefix.find("yes") != std::string::npos) return "yes";
  if (prefix.find("no") != std::string::npos) return "no";
  return "other";
}

// mme_doc_to_text with the YAML's default kwargs (pre_prompt "", post_prompt
// kShortAnswerPrompt): the stripped question, the dataset's " Please answer
// yes or no." removed, the post-prompt appended.
std::string prompt(const TaskQuestion& q) {
  const std::string question = py_replace(py_strip(q.question), " Please answer yes or no.", "");
  return question + kShortAnswerPrompt;
}

// The reference as mme_process_results normalises it (lower, strip, no '.').
std::string reference(const TaskQuestion& q) {
  const std::string gt = py_replace(py_strip(py_lower(single_answer(q.answers, kTask, q.id))), ".", "");
  if (gt != "yes" && gt != "no") fail("{} question '{}': answer '{}' is not yes or no", kTask, q.id, q.answers[0]);
  return gt;
}

QuestionScore score(const TaskQuestion& q, const std::string& response) {
  if (q.image_id.empty()) fail("{} question '{}': no image id (MME pairs two questions per image)", kTask, q.id);
  QuestionScore s;
  s.parsed = parse_yes_no(response);
  s.score = s.parsed == reference(q) ? 1.0 : 0.0;
  s.fields[is_perception(q.category) ? kPerception : kCognition] = {
      {"question_id", q.image_id}, {"category", q.category}, {"score", s.score}};
  return s;
}

// mme_aggregate_results over one metric's samples, in lmms-eval's order of
// operations (first-seen order of categories and images; its float sums).
double category_sum(const std::vector<const TaskQuestion*>& questions, const std::vector<double>& scores) {
  // category -> image -> scores, each in first-seen order.
  std::vector<std::string> categories;
  std::map<std::string, std::vector<std::string>> images;
  std::map<std::pair<std::string, std::string>, std::vector<double>> by_image;
  for (size_t i = 0; i < questions.size(); ++i) {
    const auto& q = *questions[i];
    if (!images.count(q.category)) categories.push_back(q.category);
    auto& list = images[q.category];
    auto& s = by_image[{q.category, q.image_id}];
    if (s.empty()) list.push_back(q.image_id);
    s.push_back(scores[i]);
  }
  double total = 0;
  for (const auto& category : categories) {
    double category_total = 0;
    for (const auto& image : images[category]) {
      const auto& s = by_image[{category, image}];
      if (s.size() != 2)
        fail("{}: image '{}' of category '{}' has {} question(s); MME scores pairs (lmms-eval asserts two per image)",
             kTask, image, category, s.size());
      const double sum = s[0] + s[1];
      const double acc = sum / 2 * 100.0;
      const double acc_plus = sum == 2 ? 100.0 : 0.0;
      category_total += acc_plus + acc;
    }
    total += category_total / static_cast<double>(images[category].size());
  }
  return total;
}

std::vector<TaskMetric> aggregate(const std::vector<TaskQuestion>& questions, const std::vector<QuestionScore>& scores) {
  if (questions.size() != scores.size())
    fail("{}: {} questions but {} scores", kTask, questions.size(), scores.size());
  std::vector<const TaskQuestion*> perception_q, cognition_q;
  std::vector<double> perception_s, cognition_s;
  for (size_t i = 0; i < questions.size(); ++i) {
    if (questions[i].image_id.empty())
      fail("{} question '{}': no image id (MME pairs two questions per image)", kTask, questions[i].id);
    const bool p = is_perception(questions[i].category);
    (p ? perception_q : cognition_q).push_back(&questions[i]);
    (p ? perception_s : cognition_s).push_back(scores[i].score);
  }
  std::vector<TaskMetric> out;
  if (!perception_q.empty()) out.push_back({kPerception, category_sum(perception_q, perception_s)});
  if (!cognition_q.empty()) out.push_back({kCognition, category_sum(cognition_q, cognition_s)});
  return out;
}

}  // namespace

TaskType mme_task() {
  TaskType t;
  t.name = kTask;
  t.summary = "MME: yes/no, two questions per image; perception and cognition sums of acc + acc+ per category";
  t.lmms_eval = "lmms-eval tasks/mme/utils.py, mme.yaml @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3";
  t.max_new_tokens = 16;
  t.prompt = prompt;
  t.score = score;
  t.aggregate = aggregate;
  t.resample_images = true;
  t.headline = kPerception;
  return t;
}

}  // namespace laco
