// Released checkpoints in the Hugging Face layout: a folder with config.json
// and model.safetensors (or shards listed by model.safetensors.index.json).
// Three layouts are read, by config.json's model_type:
//   siglip_vision_model / siglip  SigLIP's vision tower (vision_model.*; a full
//                                 SiglipModel's text tower is skipped)
//   qwen2                         Qwen2ForCausalLM (model.*, lm_head.weight)
//   llava_onevision               transformers' LlavaOnevisionForConditionalGeneration
//                                 (vision_tower.*, multi_modal_projector.*,
//                                 language_model.*; or the model.* / lm_head.*
//                                 names transformers >= 4.52 saves)
// Absent config fields take transformers' defaults, as its config classes do.
// Loading is strict: every parameter of the model must come from exactly one
// stored tensor of the shape config.json implies, and every stored tensor must
// be loaded or skipped by a rule that says why (LLaVA's image_newline, layers
// after vision_feature_layer, ...). Weights stored as F32, F16 or BF16 are
// converted to float32. Every failure is an Error naming the file and tensor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/model/mllm.h"

namespace laco {

/// What a checkpoint folder's config.json describes.
struct CheckpointConfig {
  std::string dir;
  std::string model_type;  ///< config.json's model_type, as given
  std::string kind;        ///< "siglip", "qwen2" or "llava_onevision"
  /// The vision tower (siglip, llava_onevision): SigLIP's transformer with
  /// post_layernorm (siglip), or the blocks up to vision_feature_layer
  /// without it (llava_onevision: the features its projector takes).
  std::optional<EncoderOptions> encoder;
  std::optional<LmOptions> lm;  ///< qwen2, llava_onevision
  int64_t vision_layers = 0;    ///< num_hidden_layers stored (the encoder runs encoder->depth() of them)
  bool vision_head = false;     ///< vision_use_head: SigLIP's attention-pooling head is stored (and skipped)
  /// qwen2, llava_onevision: the LM's max_position_embeddings (Qwen2's default 32768): prompt + answer must fit
  int64_t context = 0;
  /// llava_onevision: the id `<image>` expands to (image_token_index; transformers' default 151646)
  int64_t image_token = -1;
  /// llava_onevision: vision_aspect_ratio "anyres_max_N" (transformers' default N = 9)
  int64_t anyres_max_tiles = 0;
  /// llava_onevision: image_grid_pinpoints as [height, width] pairs, when config.json has them
  std::vector<std::pair<int64_t, int64_t>> grid_pinpoints;

  /// "llava_onevision: SigLIP 24 px/6, 2 of 2 blocks, width 32 + Qwen2 width 24, 2 layers, vocab 80"
  std::string summary() const;
};

/// The model-type names read (for error messages and `laco --help`).
const std::vector<std::string>& checkpoint_model_types();

/// Reads DIR/config.json. Errors name the file, the field and the allowed values.
CheckpointConfig read_checkpoint_config(const std::string& dir);

/// The model a run builds from a checkpoint: its parts from the checkpoint,
/// the parts it lacks (a SigLIP folder has no LM, a Qwen2 folder no encoder)
/// from `base` (a preset's model). The encoder never applies post_layernorm
/// here: LLaVA feeds the projector the hidden state before it.
MllmOptions checkpoint_model(const CheckpointConfig& config, const MllmOptions& base);

/// What loading did, for the run's provenance and `laco checkpoint`.
struct CheckpointLoad {
  std::vector<std::string> files;          ///< the safetensors files read, in order
  int64_t tensors = 0;                     ///< stored tensors loaded
  int64_t values = 0;                      ///< their elements
  std::map<std::string, int64_t> dtypes;   ///< stored dtype -> tensors loaded
  /// Stored tensors not loaded, one line per rule: "image_newline (1 tensor): ...".
  std::vector<std::string> skipped;
  std::string sha256;                      ///< of config.json and every file read, in order
};

/// Loads the weights of a siglip or qwen2 checkpoint into the part it holds
/// (the other pointer must be null), built from read_checkpoint_config: the
/// encoder's depth and post_layernorm decide which stored blocks and final
/// norm are read, and skipped with a reason otherwise.
CheckpointLoad load_checkpoint(const CheckpointConfig& config, VisionEncoderImpl* encoder, DecoderLMImpl* lm);
/// Loads every part the checkpoint holds into an MLLM built from
/// checkpoint_model(config, ...); the parts it lacks keep their weights, and
/// so does an inserted compressor. A method that replaced the projector skips
/// the stored multi_modal_projector (with that reason); image_newline is
/// loaded into a model built with MllmOptions::image_newline, else skipped.
CheckpointLoad load_checkpoint(const CheckpointConfig& config, MllmImpl& model);

/// SHA-256 over the SHA-256 of config.json and of each weight file (in
/// load order): what CheckpointLoad::sha256 is for the same files, without
/// loading them. Usage: spec.checkpoint_sha256 = checkpoint_sha256(dir);
std::string checkpoint_sha256(const std::string& dir);

/// JSON for provenance: {"dir", "model_type", "sha256", "tensors", "skipped"}.
nlohmann::json to_json(const CheckpointConfig& config, const CheckpointLoad& load);

}  // namespace laco
