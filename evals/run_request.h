// What is asked of an evaluation before it is resolved into a RunSpec, and
// where runs execute. Shared by `laco run`, sweep specs and the tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/model/compressor.h"
#include "harness/model/grid.h"
#include "harness/model/init.h"

namespace laco {

class Progress;
struct Response;

/// Where a benchmark run commits each question as it finishes, and finds the
/// questions an earlier, interrupted attempt at the same run committed
/// (results/store.h keeps them in the results database). The run counts as
/// done only when its record, with every question, is stored.
class ResponseJournal {
 public:
  virtual ~ResponseJournal() = default;
  /// The responses committed for run `key` by earlier attempts of this build,
  /// by question index (the benchmark's order); others are not returned.
  virtual std::map<int64_t, Response> committed(const std::string& key) = 0;
  /// Commits question `index` of run `key` (its own transaction).
  virtual void commit(const std::string& key, int64_t index, const Response& response) = 0;
};

/// The largest seed: results databases store seeds as SQLite's signed 64-bit
/// integers, so 2^63 and above cannot be kept as given (2^64-1 once ran as
/// 2^63-1). Spec and flags refuse larger seeds.
constexpr int64_t kMaxSeed = INT64_MAX;

/// The request every evaluation shares: the method, where it sits, seed and
/// threads. Each evaluation adds its own settings (AccuracyConfig, EfficiencyConfig).
struct RunRequest {
  std::string preset;  ///< "": the evaluation's default preset
  /// A checkpoint folder in the Hugging Face layout (harness/model/checkpoint.h):
  /// the model takes the parts it holds, with their shape and weights; the
  /// preset gives the rest and the measurement. "": the preset's model.
  std::string model;
  std::string method = "laco";
  MethodOptions method_options;
  std::string layer = "1/4";  ///< placement text: 1/4, 0.25, 1, block:7
  int64_t ratio = 2;
  GridPolicy grid_policy = GridPolicy::kPad;
  /// reference (each method as its reference initialises it), trunc_normal or torch_default (one scheme for all).
  std::string init = "reference";
  /// After the encoder: "reference" (a method whose reference is the projector
  /// replaces mlp2x_gelu; others are followed by it) or "mlp2x_gelu" (every
  /// method keeps the encoder width and mlp2x_gelu follows, for ablation).
  std::string projector = "reference";
  uint64_t seed = 0;
  int threads = 2;
  /// Answering with a released checkpoint (generate, benchmark runs): a method
  /// whose weights must be trained is refused unless the folder holds it
  /// fine-tuned (laco train); true runs it untrained, for ablations. Checked
  /// when the run is resolved; not part of the run (the checkpoint's digest
  /// already tells a fine-tuned folder from a released one).
  bool allow_untrained = false;
};

/// The values RunRequest::projector takes.
const std::vector<std::string>& projector_choices();
/// Throws unless `text` is one of projector_choices(); the Error names `where` and the allowed values.
void check_projector_choice(const std::string& text, const std::string& where);

/// An evaluation's typed request (AccuracyConfig, EfficiencyConfig) from the
/// common part, keeping the evaluation's own default preset where the request
/// names none.
template <typename Config>
Config request_as(const RunRequest& request) {
  Config config;
  const std::string default_preset = config.preset;
  static_cast<RunRequest&>(config) = request;
  if (config.preset.empty()) config.preset = default_preset;
  return config;
}

/// The settings key under which a sweep grid's `budgets` reach an evaluation
/// that trains (EvaluationInfo::budgets): an integer >= 1 multiplying its
/// training steps. Absent: 1, the steps as the section or preset gives them.
constexpr const char* kBudgetSetting = "budget";

/// Sets `field` from settings[key] when the settings hold it.
template <typename T>
void take_setting(const nlohmann::json& settings, const char* key, T& field) {
  if (settings.contains(key)) field = settings.at(key).get<T>();
}

/// Where runs execute: the progress display and the stage-0 model cache
/// (neither changes a result, so neither is part of a run's configuration).
struct RunContext {
  Progress* progress = nullptr;
  std::string cache_dir = "results/cache";
  /// Inputs runs share that this process produced but could not keep (a
  /// stage-0 model that did not fit on the disk), by name, with the error: a
  /// later run needing one fails at once instead of redoing the work to fail
  /// again. Owned by the caller (a sweep); null where runs share nothing.
  std::map<std::string, std::string>* lost_inputs = nullptr;
  /// Benchmark runs commit each question here as it finishes (null: no
  /// database, so a killed run starts over).
  ResponseJournal* journal = nullptr;
};

}  // namespace laco
