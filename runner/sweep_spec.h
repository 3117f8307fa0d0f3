// Sweep specs (sweeps/*.json): a grid of methods x placements x ratios x
// seeds per evaluation, parsed strictly (every field checked, errors name the
// file, the JSON path and the allowed values) and expanded into runs keyed by
// a hash of their resolved configuration.
//
//   {
//     "name": "smoke", "description": "...", "threads": 2, "grid_policy": "pad",
//     "evals": ["accuracy", "efficiency"],
//     "accuracy":   {"preset": "tiny", "seeds": [0], "steps0": 20, "steps1": 2, "steps2": 2},
//     "efficiency": {"preset": "tiny", "seeds": [0], "reps": 1, "warmup": 0},
//     "grids": [
//       {"name": "placement", "methods": ["none", "laco", {"name": "laco", "options": {"zero_init": true}}],
//        "placements": ["1/4", "1"], "ratios": [2]},
//       {"name": "ratio", "methods": ["laco"], "placements": ["1/4"], "ratios": [2, 3, 4], "evals": ["accuracy"]},
//       {"name": "budget", "methods": ["laco"], "placements": ["1/4"], "ratios": [2], "budgets": [1, 4, 16],
//        "evals": ["accuracy"]}
//     ]
//   }
//
// A grid's optional "budgets" multiply the training of its runs (accuracy:
// stages 1 and 2, steps1 and steps2 of the section or the preset; not stage
// 0), so that a ranking can be checked against the training budget. The
// steps are part of the run key, so each budget is a run of its own; budget
// 1 is exactly the run without the key. Only a grid whose evaluations all
// train (EvaluationInfo::budgets) may have budgets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_spec.h"
#include "harness/model/grid.h"
#include "methods/registry.h"
#include "results/store.h"

namespace laco {

struct EvaluationInfo;

/// A method of a grid with its options; `path` names it in errors (a spec's
/// JSON path, or the flag that gave it).
struct GridMethod {
  std::string name;
  MethodOptions options;
  std::string path;
};

/// The fewest rounds a claim may ask for: with fewer pairs no outcome of
/// the signed-rank test reaches the 5% level and no exact interval 95%.
constexpr int64_t kMinClaimRounds = 6;

/// A comparison the sweep makes a claim about (a grid's "claims"): a method
/// at a placement against `none` or against the same method at another of
/// the grid's placements, at each of the grid's ratios and seeds. Both runs
/// take at least `rounds` timed rounds (the evaluation's rounds_setting), so
/// that the report's paired interval of their ratio is 95% and its test can
/// reach the 5% level; the rest of their group keeps its own repetitions.
///   "claims": [{"method": "laco", "placement": "1/4", "against": "1", "rounds": 8},
///              {"method": "laco", "placement": "1/4", "against": "none", "rounds": 8}]
struct SweepClaim {
  std::string path;  ///< "$.grids[0].claims[1]"
  GridMethod method;
  std::string placement;
  std::string against;  ///< "none" (the reference method), or another placement of the grid
  int64_t rounds = kMinClaimRounds;
};

/// One grid of a sweep: methods x placements x ratios (x budgets) at its
/// evaluations' seeds. Paths name each part in errors.
struct SweepGrid {
  std::string name, path;
  std::vector<GridMethod> methods;
  std::vector<std::string> placements;
  std::vector<std::string> placement_paths;
  std::vector<int64_t> ratios;
  std::vector<std::string> evals;
  std::string init = "reference", projector = "reference";  ///< RunRequest's
  /// Multipliers of the training budget (EvaluationInfo::budgets); {1}: the runs as the sections give them.
  std::vector<int64_t> budgets = {1};
  /// The seeds of this grid's runs; empty: its section's.
  std::vector<uint64_t> seeds;
  std::vector<SweepClaim> claims;
};

/// An evaluation's section: its preset, checkpoint, seeds and own settings (checked).
struct SweepSection {
  const EvaluationInfo* info = nullptr;
  std::string preset;
  std::string model;  ///< a checkpoint folder (RunRequest::model); "": the preset's model
  std::vector<uint64_t> seeds = {0};
  int threads = 0;  ///< 0: the definition's
  nlohmann::json settings = nlohmann::json::object();
  /// RunRequest::allow_untrained (`laco run --allow-untrained`; not a spec key).
  bool allow_untrained = false;
};

/// What a spec file says, checked, before expansion: `laco sweep` reads it
/// from JSON, `laco run` builds it from its flags (a one-grid sweep); both
/// expand it with expand_sweep, the one expansion of every run laco makes.
struct SweepDefinition {
  std::string file;  ///< names the source in errors ("sweeps/x.json", "laco run")
  std::string name, description;
  int threads = 2;
  GridPolicy grid_policy = GridPolicy::kPad;
  std::vector<std::string> evals;
  std::map<std::string, SweepSection> sections;  ///< by evaluation, one per entry of `evals`
  std::vector<SweepGrid> grids;
};

/// One configuration of a sweep.
struct SweepRun {
  std::string key;                 ///< spec.key()
  RunSpec spec;                    ///< resolved
  std::vector<std::string> grids;  ///< the grids that asked for it (a run shared by grids runs once)
  int64_t budget = 1;              ///< the grid's training budget (`budgets`); 1: the steps as the section gives them

  const std::string& eval() const { return spec.eval(); }
  /// "accuracy laco 1/4 (block 2/8) r=2 seed=0", and " budget=x4" for a budget other than 1.
  std::string label() const;
  PlannedRun planned() const;
};

/// What runs together: the runs of one evaluation group (EvaluationInfo::group),
/// e.g. the efficiency runs of one method, ratio and seed at every placement,
/// measured with interleaved repetitions so that their ratios are fair; or one
/// run alone.
struct SweepUnit {
  std::vector<size_t> runs;  ///< indices into Sweep::runs
  std::string group_key;     ///< stored with the runs ("" for a run alone)
};

/// A claim as expanded: the two runs it compares, of one ratio and seed.
struct PlannedClaim {
  std::string label;  ///< "efficiency laco 1/4 vs laco 1, r=2, seed 0"
  size_t a = 0, b = 0;  ///< indices into Sweep::runs: a over b is the claimed ratio
  int64_t rounds = 0;   ///< the rounds both take part in
};

struct Sweep {
  std::string file, name, description;
  std::vector<SweepRun> runs;
  std::vector<PlannedClaim> claims;
  std::vector<SweepUnit> units;
  /// Facts about the expansion worth telling (placements that resolve to
  /// the same block, `none` runs shared across placements and ratios).
  std::vector<std::string> notes;
};

/// Settings from the command line that win over the spec.
struct SweepOverrides {
  int threads = 0;  ///< 0: the spec's: its section's, else its top level's (default 2)
  /// Only these evaluations' runs (empty: all the spec's); each must be in the spec's "evals".
  std::vector<std::string> evals;
  /// The most runs the expansion may make (laco sweep --max-runs); 0: the
  /// input limit (InputLimit::kSweepRuns). Counted before any run is built.
  uint64_t max_runs = 0;
};

/// The runs of a definition: every placement checked against the depth of
/// each preset it meets, every configuration resolved (errors name the
/// definition's file and the path of what asked for it), `none` at one
/// placement and ratio and a method inside the LM after the encoder (with a
/// note each), runs asked for twice run once, and the runs an evaluation
/// measures together grouped into one unit.
Sweep expand_sweep(const SweepDefinition& definition, const SweepOverrides& overrides = {});

/// Reads, checks and expands a spec file. Nothing runs; every configuration
/// is resolved, so a spec that loads is a spec whose runs can all start.
Sweep load_sweep(const std::string& path, const SweepOverrides& overrides = {});
/// The same from parsed JSON; `file` names the source in errors.
Sweep parse_sweep(const nlohmann::json& spec, const std::string& file, const SweepOverrides& overrides = {});

/// "i/n" with 1 <= i <= n; `where` names the flag in errors.
std::pair<int, int> parse_shard(const std::string& text, const std::string& where = "--shard");
/// Shard i of n (1-based): every n-th work unit starting at the i-th, so the
/// shards partition the sweep and each gets a mix of its grids.
Sweep shard_sweep(const Sweep& sweep, int index, int count);

}  // namespace laco
