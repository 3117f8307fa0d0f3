// An lmms-eval run rescored with laco's task scorers (issue 43): each logged
// response is scored again by laco's TaskType (harness/score), and every
// per-sample score and every aggregate is compared with what lmms-eval wrote.
// No disagreement means laco's scorer and lmms-eval's process_results and
// aggregation agree on that run; a disagreement names the sample (doc_id and
// line) or the aggregate, with both values.
//
// The questions come from the log where it holds what the scorer needs:
//   mme   target (the answer), the per-sample field's question_id (the image:
//         acc+ pairs) and category;
//   pope  target (the answer) and the per-sample field's question_id;
// every other task needs laco's benchmark file (evals/benchmark_data.h) with
// the same questions, its ids being lmms-eval's doc_ids as strings (the row in
// the dataset split): TextVQA's log holds neither the answers nor the
// question (its target is the literal "answer", from doc_to_target: "answer"
// rendered as a template, and lmms-eval drops `doc` since v0.4; before, the
// logged doc's answers were already normalised in place by process_results).
// With a benchmark file, MME's and POPE's questions come from it too, and
// each sample's target must equal its question's answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/lmms_eval_log.h"
#include "harness/score/task.h"

namespace laco {

/// One value laco and lmms-eval disagree on.
struct LmmsEvalDisagreement {
  int64_t doc_id = -1;   ///< the sample's doc_id; -1 for an aggregate
  int64_t line = 0;      ///< the sample's line in the samples file; 0 for an aggregate
  std::string metric;    ///< the per-sample field or the aggregate ("mme_perception_score", "exact_match")
  double lmms_eval = 0;  ///< lmms-eval's value (NaN where its log has none)
  double laco = 0;       ///< laco's value (NaN where laco reports none)
};

struct LmmsEvalRescore {
  std::string task;                                           ///< laco's task type
  std::string questions_from;                                 ///< "samples", or the benchmark file's path
  std::vector<TaskQuestion> questions;                        ///< one per sample, in the samples file's order
  std::vector<QuestionScore> scores;                          ///< laco's score of each sample's response
  std::vector<TaskMetric> aggregates;                         ///< laco's aggregates over all samples
  std::vector<LmmsEvalDisagreement> sample_disagreements;     ///< in samples order
  std::vector<LmmsEvalDisagreement> aggregate_disagreements;  ///< in laco's aggregate order
  bool agrees() const { return sample_disagreements.empty() && aggregate_disagreements.empty(); }
};

/// The questions of `log`'s samples, in order, for task type `type`: from the
/// log itself (mme, pope) or, when `benchmark_path` is given (required for the
/// other tasks), from laco's benchmark file by id = doc_id. An Error names the
/// samples file's line and the field that is missing, or the doc_id the
/// benchmark file lacks.
std::vector<TaskQuestion> lmms_eval_questions(const LmmsEvalTaskLog& log, const TaskType& type,
                                              const std::string& benchmark_path = "");

/// Scores every sample's response with `type`, aggregates, and compares.
/// Per-sample scores must be equal: both are the same double (lmms-eval's JSON
/// holds Python's shortest round-trip repr; laco's scorers reproduce its float
/// operations). Aggregates must agree within lmms_eval_aggregate_tolerance.
LmmsEvalRescore rescore_lmms_eval(const LmmsEvalTaskLog& log, const TaskType& type,
                                  const std::vector<TaskQuestion>& questions);

/// Both steps for the log's own task type (an Error when laco has none).
/// Usage: auto r = rescore_lmms_eval(read_lmms_eval_log(samples, results), "bench/textvqa.jsonl");
LmmsEvalRescore rescore_lmms_eval(const LmmsEvalTaskLog& log, const std::string& benchmark_path = "");

/// How far laco's aggregate `laco` over `n` samples may be from lmms-eval's
/// `lmms`. The results file is not rounded (json.dumps writes each double's
/// shortest round-trip repr: lmms-eval's loggers/evaluation_tracker.py
/// save_results_aggregated), and laco's aggregates repeat lmms-eval's float
/// operations in the samples file's order, which is lmms-eval's own; what the
/// tolerance admits is another summation order (a log re-sorted by doc_id, or
/// samples of several processes joined otherwise): n non-negative values
/// summed in any order differ by at most (n - 1) * eps * their sum (recursive
/// summation's bound), hence (n + 1) * DBL_EPSILON * max(1, |lmms|, |laco|).
double lmms_eval_aggregate_tolerance(double lmms, double laco, size_t n);

}  // namespace laco
