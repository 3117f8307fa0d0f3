// `laco run --eval accuracy`: the compressor-insertion protocol on SynthVQA.
// Stage 0 (evals/stage0.h, cached on disk by a hash of its configuration):
// train the uncompressed MLLM. Per run: insert the method after block k of
// that pretrained encoder; stage 1 trains the compressor and projector only;
// stage 2 trains everything; then exact-match accuracy per family on test.
// The training and scoring are evals/vqa_training.h, the presets
// evals/accuracy_presets.h; this file is the protocol around them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/accuracy_presets.h"
#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/settings.h"
#include "evals/stage0.h"
#include "evals/vqa_training.h"

namespace laco {

/// The most steps a training stage may be given (a spec's steps0..steps2):
/// days of CPU time per run; more is a typo.
constexpr int64_t kMaxTrainingSteps = 10000000;

/// What an accuracy run asks for beyond the common request.
/// Usage: AccuracyConfig c; c.preset = "tiny"; run_accuracy(resolve_accuracy_config(c), {nullptr, "results/cache"});
struct AccuracyConfig : RunRequest {
  AccuracyConfig() { preset = "small"; }
  // -1 takes the preset's value.
  int64_t steps0 = -1, steps1 = -1, steps2 = -1;
  /// >= 0: every seed's run inserts its method into the one stage-0 model of
  /// this seed (and uses its data), as a paper inserts compressors into one
  /// pretrained model; -1: each seed trains its own stage 0.
  int64_t stage0_seed = -1;
  std::string train_data;  ///< LLaVA-layout JSONL instead of generated train data
  std::string test_data;   ///< ... instead of the generated test split
};

/// Checks everything (preset, method, placement, ratio, data files) before any training.
RunSpec resolve_accuracy_config(const AccuracyConfig& config);
/// The request from its generic form: the common part and the settings of a
/// spec's accuracy section (steps0, steps1, steps2, train_data, test_data).
AccuracyConfig accuracy_config(const RunRequest& request, const nlohmann::json& settings);
/// Those settings, each described once (evals/settings.h).
const std::vector<SettingInfo>& accuracy_settings();

RunRecord run_accuracy(const RunSpec& run, const RunContext& context = {});
/// Progress units of a run: one per training step of the three stages (a
/// cached stage 0 counts as done at once) and one for the evaluation, so that
/// the ETA weighs a 2000-step stage 0 as what it is.
int64_t accuracy_units(const RunSpec& run);


}  // namespace laco
