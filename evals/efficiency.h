// `laco run --eval efficiency`: latency, throughput, training step, memory and
// FLOPs of the MLLM with one compressor configuration, on real model shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"
#include "harness/print/table.h"

namespace laco {

class JsonChecker;

/// Bounds of a request far beyond any CPU run, keeping every product of them
/// (batch x tokens x width, FLOP counts) inside 64 bits: 1 + 63 crops, 2^20 text tokens.
constexpr int64_t kMaxCrops = 64;
constexpr int64_t kMaxTextTokens = int64_t{1} << 20;
/// Generated tokens per request: at least 2 (the first ends the prefill), at most 2^20.
constexpr int64_t kMaxGenTokens = int64_t{1} << 20;

/// The generated-token counts a decode measurement takes: `given`, or the
/// preset's when empty; each checked (2..kMaxGenTokens, an Error naming
/// --gen-tokens), sorted, duplicates dropped. Usage: resolve_gen_tokens({256, 16}, preset.gen_tokens)
std::vector<int64_t> resolve_gen_tokens(std::vector<int64_t> given, const std::vector<int64_t>& preset);

/// The stages a run measures; all by default.
enum class EfficiencyStage { kEncoder, kPrefill, kThroughput, kTrain, kMemory, kPeak, kDecode };
std::vector<std::string> efficiency_stage_names();

/// What an efficiency run asks for beyond the common request.
/// Usage: EfficiencyConfig c; c.method = "laco"; c.layer = "1/4"; run_efficiency({resolve_efficiency_config(c)});
struct EfficiencyConfig : RunRequest {
  EfficiencyConfig() { preset = "cpu-small"; }
  // kUnset takes the preset's value.
  static constexpr int64_t kUnset = -1;
  int64_t crops = kUnset;
  int64_t text_tokens = kUnset;
  int64_t batch = kUnset;
  int64_t train_batch = kUnset;
  int64_t warmup = kUnset;
  int64_t reps = kUnset;
  std::string device = "cpu";
  std::vector<std::string> stages;  ///< empty: all
  std::vector<int64_t> gen_tokens;  ///< decode: generated tokens per request; empty: the preset's
  double memory_budget_gib = kUnset;
};

/// Resolves the preset and overrides, checks everything (unknown preset or
/// method, crops/batch < 1, placement beyond depth, ...) before building anything.
RunSpec resolve_efficiency_config(const EfficiencyConfig& config);
/// The request from its generic form: the common part and the settings of a
/// spec's efficiency section (crops, text_tokens, batch, train_batch, warmup, reps, stages, device,
/// gen_tokens, memory_budget_gib).
EfficiencyConfig efficiency_config(const RunRequest& request, const nlohmann::json& settings);
/// Those settings, each described once (evals/settings.h).
const std::vector<SettingInfo>& efficiency_settings();

/// Builds one model per run and measures them together: each measurement's
/// warm-ups and repetitions go in rounds that visit every run once, in an
/// order rotated from round to round (round_order), so that the drift of a
/// shared machine falls on all of them alike and their ratios are fair. All
/// models' weights are resident at once; training state (gradients, AdamW
/// moments) is built, used and freed run by run within each round. A group
/// that would not fit in memory fails before it is built, saying so.
/// Records come back in the order of `runs`.
std::vector<RunRecord> run_efficiency(const std::vector<RunSpec>& runs, Progress* progress = nullptr);
/// How many progress units run_efficiency() reports for these runs.
int64_t efficiency_units(const std::vector<RunSpec>& runs);
/// Everything of an efficiency run but the method, its options, where it
/// sits, the ratio and its repetitions, hashed: the runs that share it (every
/// method, placement and ratio of one preset, seed, thread count and set of
/// settings) are measured together, so that any two cells of a report table
/// were measured in one interleaved group. A run with fewer repetitions than
/// the group's most (a sweep's claimed comparisons take more) takes part in
/// the first rounds only. Each record's facts say which measurement it was
/// ("measurement": the runs measured in the same rounds share it), how many
/// rounds it had ("rounds") and the group's noise ("round_noise", round_noise()).
std::string efficiency_group(const RunSpec& run);
/// The noise of paired comparisons in one measurement: per timing metric,
/// the pooled standard deviation of the per-round log ratio of two runs
/// about its own mean, over every two runs and the rounds both took part
/// in ({"train_step_time": 0.031, ...}; metrics without two such rounds are
/// absent). `laco sweep --dry-run` turns it into the smallest difference a
/// claim's rounds can detect.
nlohmann::json round_noise(const std::vector<const RunRecord*>& records);
/// The order in which round `round` of `rounds` visits `n` runs: a cyclic
/// shift by round * n / rounds, so that over the rounds every run is measured
/// early, midway and late in a round alike.
/// Usage: for (size_t i : round_order(n, rep, reps)) measure(i);
std::vector<size_t> round_order(size_t n, int64_t round, int64_t rounds);
/// An Error, before a group is built beyond its first model, when its
/// `sessions` models (`session_bytes` of weights and inputs each) and one
/// training state at a time (gradients + AdamW moments + activations, about 4
/// x `model_bytes`, when `trains`) need more than 90% of `available` bytes;
/// the message says how much and how to split the sweep. available <= 0: no check.
void check_group_fits(size_t sessions, int64_t session_bytes, int64_t model_bytes, const RunSpec& first, bool trains,
                      int64_t available);

/// LaCo-style claims: internal (placement < 1) against the same method and
/// ratio after the encoder, measured speedup next to the FLOP model's.
PrintTable speedups_table(const RunRecord& internal, const RunRecord& external);

}  // namespace laco
