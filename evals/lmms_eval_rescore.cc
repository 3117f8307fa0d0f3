#include "evals/lmms_eval_rescore.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "evals/benchmark_data.h"
#include "harness/base/error.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"

namespace laco {
namespace {

using nlohmann::json;

constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

JsonChecker line_checker(const LmmsEvalTaskLog& log, const LmmsEvalSample& s) {
  return JsonChecker(fmt::format("{}:{}", log.samples_path, s.line));
}

// A per-sample field's score: the number itself ("exact_match": 0.9) or its
// "score" (MME's and POPE's objects); nothing for other fields ("submission").
std::optional<double> score_of(const json& field) {
  if (field.is_number()) return field.get<double>();
  if (field.is_object() && field.contains("score") && field.at("score").is_number())
    return field.at("score").get<double>();
  return std::nullopt;
}

// A dataset id as text: a string as it is, an integer in decimal.
std::string id_text(const json& v, const JsonChecker& ck, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  ck.error(path, "expected a string or an integer, got {} (allowed: the dataset's id)", ck.describe(v));
}

std::string target_text(const LmmsEvalSample& s, const JsonChecker& ck) {
  return ck.string(s.target, "$.target", "a string (lmms-eval writes str(doc_to_target(doc)))");
}

// The per-sample field `names` (the first present) as an object, or an Error naming the line.
const json& field_object(const LmmsEvalSample& s, const JsonChecker& ck, const std::vector<std::string>& names,
                         const std::vector<std::string>& keys) {
  for (const auto& name : names) {
    if (!s.fields.contains(name)) continue;
    const json& f = s.fields.at(name);
    if (!f.is_object())
      ck.error("$." + name, "expected an object, got {} (allowed: an object with {})", ck.describe(f), join(keys));
    for (const auto& k : keys)
      if (!f.contains(k))
        ck.error("$." + name, "missing field '{}' (allowed: an object with {}, as process_results writes it)", k,
                 join(keys));
    return f;
  }
  ck.error("$", "missing field '{}' (allowed: the task's per-sample metric, an object with {})", join(names, "' or '"),
           join(keys));
}

TaskQuestion question_from_sample(const LmmsEvalTaskLog& log, const LmmsEvalSample& s, const std::string& task) {
  const JsonChecker ck = line_checker(log, s);
  TaskQuestion q;
  q.answers = {target_text(s, ck)};
  if (s.doc.is_object() && s.doc.contains("question") && s.doc.at("question").is_string())
    q.question = s.doc.at("question").get<std::string>();
  if (task == "mme") {
    // mme_process_results: {"question_id": the image, "category", "score"}.
    const json& f = field_object(s, ck, {"mme_perception_score", "mme_cognition_score"}, {"question_id", "category"});
    q.id = std::to_string(s.doc_id);
    q.image_id = id_text(f.at("question_id"), ck, "$.mme_*_score.question_id");
    q.category = ck.string(f.at("category"), "$.mme_*_score.category", "MME's category");
  } else {
    // pope_process_results: {"question_id", "score", "prediction", "ground_truth"} under each metric.
    const json& f = field_object(s, ck, {"pope_accuracy"}, {"question_id"});
    q.id = id_text(f.at("question_id"), ck, "$.pope_accuracy.question_id");
    if (s.doc.is_object() && s.doc.contains("category") && s.doc.at("category").is_string())
      q.category = s.doc.at("category").get<std::string>();
  }
  return q;
}

}  // namespace

double lmms_eval_aggregate_tolerance(double lmms, double laco, size_t n) {
  return static_cast<double>(n + 1) * DBL_EPSILON * std::max({1.0, std::fabs(lmms), std::fabs(laco)});
}

std::vector<TaskQuestion> lmms_eval_questions(const LmmsEvalTaskLog& log, const TaskType& type,
                                              const std::string& benchmark_path) {
  if (log.samples.empty()) fail("{}: holds no samples", log.samples_path);
  const bool from_samples = type.name == "mme" || type.name == "pope";
  std::vector<TaskQuestion> out;
  if (benchmark_path.empty()) {
    const json& target = log.samples.front().target;
    if (!from_samples)
      fail(
          "{}: lmms-eval's {} log holds no answers to score against (its target is {}); give laco's benchmark "
          "file with the same questions, ids = lmms-eval's doc_ids (allowed without one: mme, pope)",
          log.samples_path, log.lmms_task, target.dump());
    for (const auto& s : log.samples) out.push_back(question_from_sample(log, s, type.name));
    return out;
  }
  const Benchmark bench = load_benchmark(benchmark_path, type.name);
  std::map<std::string, const BenchmarkQuestion*> by_id;
  for (const auto& q : bench.questions) by_id[q.question.id] = &q;
  for (const auto& s : log.samples) {
    const JsonChecker ck = line_checker(log, s);
    const std::string id = std::to_string(s.doc_id);
    const auto it = by_id.find(id);
    if (it == by_id.end())
      ck.error("$.doc_id",
               "{} has no question with id \"{}\" in {} (allowed: a benchmark file whose ids are "
               "lmms-eval's doc_ids, the rows of the dataset split)",
               s.doc_id, id, benchmark_path);
    const TaskQuestion& q = it->second->question;
    if (from_samples && (q.answers.size() != 1 || target_text(s, ck) != q.answers.front()))
      ck.error("$.target",
               "\"{}\" is not the answer of question \"{}\" in {}:{} (\"{}\"): not the document lmms-eval "
               "scored (allowed: the same answer)",
               target_text(s, ck), id, benchmark_path, it->second->line, join(q.answers));
    out.push_back(q);
  }
  return out;
}

LmmsEvalRescore rescore_lmms_eval(const LmmsEvalTaskLog& log, const TaskType& type,
                                  const std::vector<TaskQuestion>& questions) {
  if (questions.size() != log.samples.size())
    fail("{}: {} samples but {} questions", log.samples_path, log.samples.size(), questions.size());
  LmmsEvalRescore r;
  r.task = type.name;
  r.questions = questions;
  for (size_t i = 0; i < log.samples.size(); ++i) {
    const LmmsEvalSample& s = log.samples[i];
    QuestionScore score = type.score(questions[i], s.response);
    // Every score field laco writes, then those only lmms-eval wrote (MME's
    // other half: a question laco counts to the other sum).
    for (const auto& [name, value] : score.fields.items()) {
      const auto ours = score_of(value);
      if (!ours) continue;
      const auto theirs = s.fields.contains(name) ? score_of(s.fields.at(name)) : std::nullopt;
      if (!theirs || *theirs != *ours)
        r.sample_disagreements.push_back({s.doc_id, s.line, name, theirs.value_or(kNone), *ours});
    }
    for (const auto& [name, value] : s.fields.items()) {
      const auto theirs = score_of(value);
      if (theirs && !score.fields.contains(name))
        r.sample_disagreements.push_back({s.doc_id, s.line, name, *theirs, kNone});
    }
    r.scores.push_back(std::move(score));
  }
  r.aggregates = type.aggregate(r.questions, r.scores);
  for (const auto& m : r.aggregates) {
    const auto it = log.results.find(m.name);
    const double theirs = it == log.results.end() ? kNone : it->second;
    if (std::isnan(theirs) ||
        std::fabs(theirs - m.value) > lmms_eval_aggregate_tolerance(theirs, m.value, log.samples.size()))
      r.aggregate_disagreements.push_back({-1, 0, m.name, theirs, m.value});
  }
  return r;
}

LmmsEvalRescore rescore_lmms_eval(const LmmsEvalTaskLog& log, const std::string& benchmark_path) {
  if (log.task.empty()) {
    std::vector<std::string> names;
    for (const auto& [lmms, laco] : lmms_eval_task_names()) names.push_back(lmms);
    fail("{}: lmms-eval task '{}' has no laco task type to rescore it (allowed: {})", log.samples_path, log.lmms_task,
         join(names));
  }
  const TaskType& type = find_task(log.task, log.samples_path);
  LmmsEvalRescore r = rescore_lmms_eval(log, type, lmms_eval_questions(log, type, benchmark_path));
  r.questions_from = benchmark_path.empty() ? "samples" : benchmark_path;
  return r;
}

}  // namespace laco
