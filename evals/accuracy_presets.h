// The accuracy presets: the SynthVQA data, the model and the training of
// each stage (tiny: tests; small: 2 CPU cores; base: a GPU). A stage-0
// source (CMakeLists.txt, LACO_STAGE0_SOURCES): what a preset trains with
// decides stage 0's weights, so editing this file retrains cached stage 0s.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/synthvqa.h"
#include "harness/model/mllm.h"

namespace laco {

struct AccuracyPreset {
  std::string name, summary;
  SynthVqaOptions data;
  /// lm.vocab is SynthVQA's vocabulary size; a run's model takes its own vocabulary's (accuracy_model()).
  MllmOptions model;
  int64_t train_size = 0, test_size = 0;
  int64_t batch = 32;
  int64_t steps0 = 0, steps1 = 0, steps2 = 0;
  double lr0 = 1e-3, lr1 = 1e-3, lr2 = 3e-4;
  int64_t question_tokens = 12;
  /// Stage 0 introduces the families one by one over this fraction of its steps (0: all at once).
  double curriculum = 0.5;
  /// Stage 0's mix on generated data: a family's samples are drawn with this
  /// relative weight (vqa_families() order, all > 0; empty: as generated, one
  /// in five each). A family learnt early gives little gradient; its share of
  /// the batch is better spent on the ones still learning.
  std::vector<double> stage0_mix;
  int64_t log_every = 10;  ///< loss curve sampling, in steps
  int64_t val_size = 250;  ///< validation samples scored during stage 0
  int64_t val_points = 10; ///< how many times stage 0 is scored on them
};

/// tiny (tests), small (2 CPU cores), base (a GPU).
const std::vector<AccuracyPreset>& accuracy_presets();
const AccuracyPreset& find_accuracy_preset(const std::string& name);
std::string format_accuracy_presets();

}  // namespace laco
