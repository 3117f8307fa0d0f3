// Benchmark task types scored as lmms-eval scores them (issue 43): one entry
// per task type holds the prompt lmms-eval's task YAML and utils build
// (doc_to_text with its pre- and post-prompt), its max_new_tokens, the
// per-question scorer (process_results: parse the response, score it) and the
// aggregation (the task's aggregate functions). Each family's semantics is
// written from lmms-eval's tasks/<task>/utils.py (the commit read is named in
// its file) and tested on hand-worked cases (tests/test_score_*.cc).
//
// Adding a task type is one entry: a factory in its family's file, listed in
// task_registry() (task.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco {

/// The post-prompt lmms-eval's short-answer tasks append (MME, POPE, VQAv2, TextVQA, GQA, DocVQA YAMLs).
inline constexpr const char* kShortAnswerPrompt = "\nAnswer the question using a single word or phrase.";

/// One benchmark question as a scorer sees it (a line of a benchmark JSONL).
struct TaskQuestion {
  std::string id;                    ///< question id, unique in the file
  std::string question;              ///< the question text as the dataset holds it
  std::vector<std::string> answers;  ///< one reference answer, or several (VQAv2/TextVQA: ten human answers; DocVQA: all accepted)
  std::vector<std::string> options;  ///< multiple choice: the options' texts in order (A, B, C, ...); else empty
  std::string category;              ///< MME's subtask, POPE's split, MMBench's category, ...
  std::string image_id;              ///< what groups questions on one image (MME's acc+ pairs)
  nlohmann::json extra = nlohmann::json::object();  ///< task-specific fields (e.g. ScienceQA's hint, MMBench's hint)
};

/// One question's result.
struct QuestionScore {
  std::string parsed;  ///< the answer parsed from the response (e.g. "yes", "B", the normalised text)
  double score = 0;    ///< the task's main per-question score (1 correct, 0 wrong; VQA accuracy; ANLS)
  /// lmms-eval's per-sample metric fields for this question (what its samples_*.jsonl holds), for import and rescoring.
  nlohmann::json fields = nlohmann::json::object();
};

/// One aggregate a task reports (MME: perception and cognition sums; POPE: accuracy, precision, recall, F1, yes-ratio).
struct TaskMetric {
  std::string name;   ///< lmms-eval's metric name ("mme_perception_score", "pope_f1_score", "exact_match", ...)
  double value = 0;   ///< as lmms-eval's results JSON reports it (its scale: MME sums to 2000/800, accuracies in 0..1 or 0..100 as lmms-eval does)
};

struct TaskType {
  std::string name;         ///< "mme", "pope", "mmbench_en", "seedbench", "scienceqa_img", "vqav2", "textvqa", "gqa", "docvqa", "chartqa"
  std::string summary;      ///< one line for `laco tasks` and errors
  std::string lmms_eval;    ///< where its semantics come from: "lmms-eval tasks/mme/utils.py @<commit>"
  int64_t max_new_tokens = 16;  ///< the task YAML's generation_kwargs.max_new_tokens
  bool needs_options = false;   ///< multiple choice: every question has options and its answer is an option's letter
  /// The user turn's text (after `<image>\n`) as lmms-eval's doc_to_text builds it, pre- and post-prompt included.
  std::function<std::string(const TaskQuestion&)> prompt;
  /// process_results for one question and the model's response.
  std::function<QuestionScore(const TaskQuestion&, const std::string& response)> score;
  /// The task's aggregates over all its questions (scores[i] belongs to questions[i]).
  std::function<std::vector<TaskMetric>(const std::vector<TaskQuestion>&, const std::vector<QuestionScore>&)> aggregate;
  /// What a bootstrap resamples: questions (false), or images with all their
  /// questions (true: MME, whose acc+ is a property of an image's pair).
  bool resample_images = false;
  /// The aggregate a table leads with (one of aggregate()'s names: MME's
  /// perception sum, POPE's F1); "" for the mean per-question score.
  std::string headline;
};

/// lmms-eval's `mean` aggregation (lmms_eval/api/metrics.py): the values summed
/// in order, over their count; no values is an Error naming `task` (Python's
/// division by zero). Usage: lmms_mean({1, 0, 1}, "gqa") -> 0.666...
double lmms_mean(const std::vector<double>& values, const std::string& task);
/// The main per-question scores in order (QuestionScore::score), for lmms_mean.
std::vector<double> score_values(const std::vector<QuestionScore>& scores);

/// Every task type, in a fixed order.
const std::vector<TaskType>& task_registry();
/// The task type named `name`; an Error naming `where` and the allowed names otherwise.
const TaskType& find_task(const std::string& name, const std::string& where = "task");
/// "mme, pope, ...": for messages and help.
std::string task_names();

// The families' factories (one file each), listed by task_registry().
TaskType mme_task();
TaskType pope_task();
std::vector<TaskType> multiple_choice_tasks();  ///< mmbench_en, seedbench, scienceqa_img
std::vector<TaskType> vqa_tasks();              ///< vqav2, textvqa (VQA accuracy over ten answers)
TaskType gqa_task();
std::vector<TaskType> anls_tasks();             ///< docvqa (ANLS), chartqa (relaxed accuracy)

}  // namespace laco
