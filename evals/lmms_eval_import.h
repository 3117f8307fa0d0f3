// An lmms-eval run brought in as a benchmark run (issue 43, `laco import
// lmms-eval`): its samples rescored with laco's scorer for the task
// (evals/lmms_eval_rescore.h), every sample kept as a Response, lmms-eval's
// own per-sample fields, results and provenance kept beside, and the method,
// placement and ratio, which lmms-eval does not know, taken from the caller.
// Stored like a native run and marked as imported (BenchmarkSettings::origin).
#pragma once

#include <cstdint>
#include <string>

#include "evals/lmms_eval_log.h"
#include "evals/lmms_eval_rescore.h"
#include "evals/run_record.h"
#include "evals/run_request.h"

namespace laco {

/// What the caller says about the imported run. Usage:
///   LmmsEvalImport i; i.samples = "..._samples_mme.jsonl"; i.results = "..._results.json";
///   i.request.method = "laco"; i.request.layer = "1/4"; i.encoder_depth = 26;
///   RunRecord r = import_lmms_eval(i, &rescore);
struct LmmsEvalImport {
  std::string samples, results;
  std::string benchmark;  ///< laco's benchmark JSONL with the questions (ids = doc ids); required beyond MME and POPE
  /// method, options, layer, ratio, seed as `laco run` takes them; `model`, when
  /// given, a local copy of the checkpoint lmms-eval ran (its encoder depth and
  /// SHA-256 are then the run's); otherwise `encoder_depth` places the method.
  RunRequest request;
  int64_t encoder_depth = 0;
};

/// The imported run's record; `rescore` receives laco's rescoring with every
/// disagreement (also kept in the record's facts). An Error for a task laco
/// cannot score, a placement the depth does not have, or bad files.
RunRecord import_lmms_eval(const LmmsEvalImport& import, LmmsEvalRescore* rescore = nullptr);

}  // namespace laco
