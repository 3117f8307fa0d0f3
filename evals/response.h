// One benchmark question's outcome in a benchmark run (issue 43): what was
// asked, what the model said, how the task's scorer read and scored it, and
// what it cost. Stored per question (the `responses` table), so that every
// aggregate, interval and paired difference can be recomputed, and journaled
// as each question finishes, so that a killed run resumes at the next one.
// Imported lmms-eval samples are the same record without the costs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/score/task.h"

namespace laco {

struct Response {
  std::string id;        ///< the question's id in the benchmark file (lmms-eval: its doc_id)
  std::string category;  ///< MME's subtask, POPE's split, ... ("" for none)
  std::string image_id;  ///< what groups questions on one image (MME's acc+ pairs)
  std::vector<std::string> target;  ///< the reference answer(s)
  std::string response;  ///< the generated text (lmms-eval: the filtered response)
  std::string parsed;    ///< the answer the task's scorer parsed from it
  double score = 0;      ///< the task's main per-question score (0..1)
  nlohmann::json fields = nlohmann::json::object();  ///< the task's per-sample metric fields (lmms-eval's names)
  /// Costs, measured in the run (absent for imported samples).
  std::optional<int64_t> prompt_tokens, visual_tokens, output_tokens;
  std::optional<double> ttft_ms, tpot_ms;

  bool operator==(const Response& o) const;
};

/// A question's response as its task scored it, without costs (a run adds them).
Response scored_response(const TaskQuestion& question, const std::string& response, const QuestionScore& score);

/// {"id", "category", "image_id", "target", "response", "parsed", "score",
/// "fields", and the costs that are present}: the journal's format.
nlohmann::json to_json(const Response& r);
/// The inverse of to_json; an Error naming `where` and the field for a missing or mistyped one.
Response response_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace laco
