// The evaluations by name, shaped like the method registry: each entry says
// which keys its sweep-spec section takes, checks that section, resolves a
// request into a typed RunSpec, says which runs are measured together, how
// much work they are, and runs them. `laco run`, `laco sweep` (and so the
// Slurm path, which runs sweep shards) dispatch through it; a third
// evaluation is one more entry here and one more alternative in RunSpec.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"

namespace laco {

class JsonChecker;

struct EvaluationInfo {
  std::string name;
  std::string summary;
  std::string default_preset;
  std::vector<std::string> presets;
  /// Its own settings (evals/settings.h), in the order listings use: the
  /// keys of its sweep-spec section beside `preset` and `seeds`, and `laco
  /// run` flags of the same names (with '-' for '_'). parse_settings() checks
  /// them into the settings resolve() takes.
  std::vector<SettingInfo> settings;
  /// "preset", "seeds", then the settings' keys.
  std::vector<std::string> section_keys() const;
  /// Resolves and checks a request and the evaluation's settings (keyed as
  /// in its section: steps0, crops, stages, ...; an absent key takes the
  /// preset's value) into the run they describe. Nothing is built or trained.
  std::function<RunSpec(const RunRequest& request, const nlohmann::json& settings)> resolve;
  /// Whether a sweep grid's `budgets` apply: resolve() then takes the
  /// budget as settings[kBudgetSetting] (accuracy: it multiplies steps1 and
  /// steps2). A grid with budgets may include only such evaluations.
  bool budgets = false;
  /// The setting that says how many timed rounds a run takes ("reps"), for
  /// a sweep grid's `claims` (runs of a claimed comparison take at least the
  /// claim's rounds, the rest of their group keeps its own); "" for an
  /// evaluation that times nothing, to which claims do not apply.
  std::string rounds_setting;
  /// Runs with the same non-empty group are measured together (interleaved
  /// repetitions); "" runs alone.
  std::function<std::string(const RunSpec& run)> group;
  /// Progress units of running these runs together.
  std::function<int64_t(const std::vector<RunSpec>& runs)> units;
  /// Work a run shares with other runs, done once and then found done by the
  /// others (accuracy: stage 0, trained by the first run that needs it and
  /// read from the cache by the rest): its identity (the cache file) and
  /// progress units; {"", 0} for none, and for evaluations without such work.
  std::function<std::pair<std::string, int64_t>(const RunSpec& run, const std::string& cache_dir)> shared_work;
  /// Whether that work is done already (a stage 0 the cache can reuse).
  std::function<bool(const RunSpec& run, const std::string& cache_dir)> shared_work_done;
  /// Runs them (one group, or one run); records in the order of `runs`.
  std::function<std::vector<RunRecord>(const std::vector<RunSpec>& runs, const RunContext& context)> run;
  /// The encoder depth of a preset's model, or of the model a checkpoint
  /// folder makes of it ("" for none; run_model); placements are checked against it.
  std::function<int64_t(const std::string& preset, const std::string& checkpoint)> encoder_depth;
};

/// Every evaluation, in the order listings and sweeps use.
const std::vector<EvaluationInfo>& evaluation_registry();
std::vector<std::string> evaluation_names();
/// The evaluation called `name`, or an Error naming `where` and the allowed names.
const EvaluationInfo& find_evaluation(const std::string& name, const std::string& where = "--eval");
/// The entry of a resolved run.
const EvaluationInfo& evaluation_of(const RunSpec& run);
/// How many of the progress units of `runs` (in the order they will run)
/// will be found done rather than worked: shared work done already, or done
/// by an earlier run of the list (Progress::expect_advances).
int64_t expected_advances(const std::vector<RunSpec>& runs, const std::string& cache_dir);

}  // namespace laco
