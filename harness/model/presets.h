// Named model and measurement sizes, in one place. `laco presets` prints them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/model/mllm.h"

namespace laco {

struct Preset {
  std::string name;
  std::string summary;
  MllmOptions model;
  int64_t crops = 1;        ///< images per request: base image + anyres crops
  int64_t text_tokens = 8;  ///< text tokens after the visual tokens
  int64_t batch = 1;        ///< requests per forward for the throughput measurement
  int64_t train_batch = 1;  ///< requests per training step
  int64_t warmup = 1;       ///< untimed runs before each measurement
  int64_t reps = 3;         ///< timed runs per measurement
  /// Generated tokens per request the decode stage measures: a short VQA answer and a long description.
  std::vector<int64_t> gen_tokens = {16, 256};
  /// The memory the decode stage's largest batch must fit in, GiB.
  double memory_budget_gib = 80;
};

/// A published decoder shape, by name (`laco predict --lm`, the paper preset).
struct LmShape {
  std::string name;
  std::string source;  ///< where the numbers come from
  LmOptions lm;
};
/// Qwen2-0.5B, Qwen2-1.5B, Qwen2-7B (their Hugging Face config.json files).
const std::vector<LmShape>& lm_shapes();
std::vector<std::string> lm_shape_names();
/// The shape called `name`, or an Error naming `where` and the allowed names.
const LmShape& find_lm_shape(const std::string& name, const std::string& where = "lm");

/// paper, cpu-small, tiny.
const std::vector<Preset>& presets();
std::vector<std::string> preset_names();
/// The preset called `name`, or an Error naming `where` and the allowed names.
const Preset& find_preset(const std::string& name, const std::string& where = "preset");
/// A human-readable listing of every preset.
std::string format_presets();
/// Two indented lines: the encoder's and the LM's shape.
std::string describe_model(const MllmOptions& model);

}  // namespace laco
