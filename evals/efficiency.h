// `laco run --eval efficiency`: latency, throughput, training step, memory and
// FLOPs of the MLLM with one compressor configuration, on real model shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/grid.h"
#include "harness/record.h"
#include "methods/compressor.h"

namespace laco {

class Progress;

/// The stages a run measures; all by default.
enum class EfficiencyStage { kEncoder, kPrefill, kThroughput, kTrain, kMemory, kPeak };
std::vector<std::string> efficiency_stage_names();

/// Usage: EfficiencyConfig c; c.preset = "cpu-small"; c.method = "laco"; c.layer = "1/4"; run_efficiency(c);
struct EfficiencyConfig {
  std::string preset = "cpu-small";
  std::string method = "laco";
  MethodOptions method_options;
  std::string layer = "1/4";  ///< Placement text: 1/4, 0.25, 1, block:7
  int64_t ratio = 2;
  GridPolicy grid_policy = GridPolicy::kPad;
  // kUnset takes the preset's value.
  static constexpr int64_t kUnset = -1;
  int64_t crops = kUnset;
  int64_t text_tokens = kUnset;
  int64_t batch = kUnset;
  int64_t train_batch = kUnset;
  int64_t warmup = kUnset;
  int64_t reps = kUnset;
  int threads = 2;
  uint64_t seed = 0;
  std::string device = "cpu";
  std::vector<std::string> stages;  ///< empty: all
};

/// Resolves the preset and overrides, checks everything (unknown preset or
/// method, crops/batch < 1, placement beyond depth, ...) before building anything.
nlohmann::json resolve_efficiency_config(const EfficiencyConfig& config);

/// Builds one model per configuration and measures them together: each
/// measurement's repetitions are interleaved across the configurations
/// (A B A B ...), so that the drift of a shared machine falls on all of them
/// alike and their ratios are fair. All models are resident at once: group
/// only what is compared. Records come back in the order of `configs`.
std::vector<RunRecord> run_efficiency(const std::vector<EfficiencyConfig>& configs, Progress* progress = nullptr);
/// How many progress units run_efficiency() reports for these configurations.
int64_t efficiency_units(const std::vector<EfficiencyConfig>& configs);

/// LaCo-style claims: internal (placement < 1) against the same method and
/// ratio after the encoder, measured speedup next to the FLOP model's.
std::string format_speedups(const RunRecord& internal, const RunRecord& external);

}  // namespace laco
