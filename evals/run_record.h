// One typed result record per run (llama-bench's `test`): the resolved run,
// what the run learnt about itself, its metrics with units, its curves and its
// provenance. Every printer and the results database take it as it is.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/response.h"
#include "evals/run_spec.h"
#include "harness/print/table.h"

namespace laco {

struct Metric {
  std::string name;
  double value = 0;
  std::string unit;
};

/// Where and how a run was made, so that a number can be traced months later.
struct Provenance {
  std::string git_commit;
  std::optional<bool> git_dirty;  ///< uncommitted changes when the binary was built; unknown outside git
  std::string host;
  std::string device;
  std::string torch_version;
  std::string threads;    ///< describe_threads()
  std::string attention;  ///< attention_backend()
  std::string started_at;   ///< UTC, ISO 8601
  std::string finished_at;
  double wall_seconds = 0;

  /// Fills everything but the times from this process and machine.
  static Provenance here(const std::string& device);
  /// "0123456789ab+dirty" (commit_label()).
  std::string commit() const;
};

/// One test question's outcome in an accuracy run: enough to recompute every
/// accuracy, and to pair two methods question by question.
struct Prediction {
  std::string id;      ///< the question's id ("test-000042", or the JSONL's)
  std::string family;  ///< "" for user data without one
  std::string answer;
  std::string predicted;
  bool correct = false;

  bool operator==(const Prediction& o) const {
    return id == o.id && family == o.family && answer == o.answer && predicted == o.predicted && correct == o.correct;
  }
};

struct RunRecord {
  RunSpec spec;
  /// What the run learnt about itself beyond its configuration (stage0_cached,
  /// stage0_cache, measured_with); the `extra` column of the results database.
  nlohmann::json facts = nlohmann::json::object();
  std::vector<Metric> metrics;
  /// Sampled curves, e.g. "loss_stage1" -> (step, value).
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
  /// The raw measurements behind a metric that summarises them: every timed
  /// repetition, in the order measured ("encoder_latency" -> ms per repetition).
  std::map<std::string, std::vector<double>> samples;
  /// Accuracy runs: every test question, in the test set's order.
  std::vector<Prediction> predictions;
  /// Benchmark runs: every question, in the benchmark's order.
  std::vector<Response> responses;
  Provenance provenance;
  /// The runs measured together (one interleaved group) share it; "" for a
  /// run measured alone. Read from the results database (its group_key column).
  std::string group_key;

  const std::string& eval() const { return spec.eval(); }
  void add(const std::string& name, double value, const std::string& unit);
  std::optional<double> value(const std::string& name) const;
  /// The value or an Error naming the missing metric.
  double require(const std::string& name) const;
};

/// {"eval", "config" (to_json(spec)), "facts", "metrics", "series", "samples",
/// "predictions", "responses" (benchmark runs), "provenance"}.
nlohmann::json to_json(const RunRecord& record);
nlohmann::json to_json(const std::vector<RunRecord>& records);

/// One run: configuration and provenance as text, then a metric | value | unit table.
std::string format_record(const RunRecord& record);
/// Several runs side by side: a row per run with the given configuration
/// fields (names of to_json(spec)) and metrics as columns with their units;
/// missing values are empty cells.
PrintTable records_table(const std::vector<RunRecord>& records, const std::vector<std::string>& config_keys,
                         const std::vector<std::string>& metrics);

}  // namespace laco
