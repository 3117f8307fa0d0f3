// lmms-eval's `--log_samples` output read into typed data (issue 43), so that
// a run of lmms-eval can be rescored with laco's task scorers
// (evals/lmms_eval_rescore.h) and its numbers set beside laco-bench's.
//
// What lmms-eval writes, per run, into <output_path>/<model>/ (read from
// lmms-eval @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3 and v0.2.4; the
// fixtures under tests/lmms_eval/ are written by its own code,
// scripts/lmms_eval_fixtures.py):
//   <date>_results.json            one JSON object (indent 2): "results" {task:
//                                  {"alias", "<metric>,<filter>": value,
//                                  "<metric>_stderr,<filter>": number or "N/A", ...}},
//                                  "configs", "versions", "n-samples", "config"
//                                  {model, model_args, limit, ...}, "git_hash",
//                                  "date", "lmms_eval_version" (since v0.6), ...
//   <date>_samples_<task>.jsonl    one JSON object a line, per document: "doc_id",
//                                  "target" (str() of doc_to_target), "filtered_resps",
//                                  the task's per-sample metric fields (what its
//                                  process_results returned: "exact_match": 1.0,
//                                  "mme_perception_score": {"question_id", "category",
//                                  "score"}), "doc_hash", "input" (the prompt), and
//                                  "doc" (the dataset row without images) before v0.4.
// <date> is "%Y%m%d_%H%M%S" (utils.get_datetime_str); v0.2.3 named the files
// results_<iso date>.json and samples_<task>_<iso date>.jsonl, as
// lm-evaluation-harness does: both names are read.
//
// Untrusted input: the results file within the file-size limit, each samples
// line within the line limit (harness/base/limits.h); every error names the
// file (and line) and the JSON field, with what is allowed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco {

/// One line of a samples file: one document lmms-eval scored.
struct LmmsEvalSample {
  int64_t doc_id = 0;  ///< the document's row in the dataset split (lmms-eval's doc_id)
  nlohmann::json
      target;  ///< as written: lmms-eval writes str(doc_to_target(doc)) ("Yes"; TextVQA: the literal "answer")
  std::string response;  ///< filtered_resps flattened to its one string (a string, or a list holding one)
  /// The per-sample metric fields, by metric name (the names the results file
  /// reports for the task; "mme_percetion_score" under mme_perception_score).
  nlohmann::json fields = nlohmann::json::object();
  nlohmann::json doc;  ///< the dataset row when the log holds it (lmms-eval before v0.4), else null
  int64_t line = 0;    ///< 1-based line in the samples file
};

/// One task of one lmms-eval run: its samples and its results entry.
struct LmmsEvalTaskLog {
  std::string lmms_task;                ///< as lmms-eval names it (from the samples file's name), e.g. "textvqa_val"
  std::string task;                     ///< laco's task type (laco_task_of), "" where laco has none
  std::vector<LmmsEvalSample> samples;  ///< in file order
  /// Metric name (filter stripped; "mme_percetion_score" as mme_perception_score)
  /// -> value, for every numeric "<metric>,<filter>" of the task in the results
  /// file; stderr entries and null values (TextVQA's "submission") are left out.
  std::map<std::string, double> results;
  nlohmann::json config = nlohmann::json::object();  ///< the results file's "config": model, model_args, limit, ...
  std::string git_hash;                              ///< "git_hash" ("" when null or absent)
  std::string version;  ///< "lmms_eval_version" ("" before lmms-eval v0.6, which did not write it)
  std::string date;     ///< "date": the run's date id, "20261207_000000"
  std::string samples_path, results_path;
  std::string samples_sha256, results_sha256;  ///< of the files' bytes
};

/// Reads one task's samples file and the run's results file; the task is
/// named by the samples file's name and must have an entry in the results
/// file. Usage:
///   auto log = read_lmms_eval_log("out/m/20261207_000000_samples_mme.jsonl", "out/m/20261207_000000_results.json");
LmmsEvalTaskLog read_lmms_eval_log(const std::string& samples_path, const std::string& results_path);

/// The task a samples file holds, from its name: "<date>_samples_<task>.jsonl"
/// or "samples_<task>_<date>.jsonl"; an Error naming the file and both forms otherwise.
std::string lmms_eval_task_of_file(const std::string& samples_path);

/// laco's task type for an lmms-eval task name ("textvqa_val" -> "textvqa"),
/// "" when laco has none. The one table of both names: lmms_eval_task_names().
std::string laco_task_of(const std::string& lmms_task);

/// The table laco_task_of reads: (lmms-eval task, laco task type), in laco's task order.
const std::vector<std::pair<std::string, std::string>>& lmms_eval_task_names();

/// A metric name as laco names it: lmms-eval before v0.3.0 wrote MME's
/// perception score as "mme_percetion_score"; every other name is unchanged.
std::string lmms_eval_metric_name(const std::string& name);

}  // namespace laco
