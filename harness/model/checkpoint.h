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
//
// A fine-tuned llava_onevision folder (harness/model/checkpoint_save.h writes
// one) also holds a compressor: config.json's top-level "laco_compressor"
// entry says which method sits after which vision block, and its weights are
// stored under kCompressorPrefix ("laco_compressor.mlp1.0.weight"). They load
// into the compressor inserted into the model, as strictly as the rest.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/base/safetensors.h"
#include "harness/model/mllm.h"

namespace laco {

/// config.json's top-level key of a fine-tuned folder's compressor entry.
inline const std::string kCompressorEntry = "laco_compressor";
/// The stored-name prefix of the compressor's tensors: prefix + the name of
/// one of its named_parameters() / named_buffers() ("laco_compressor.mlp1.0.weight").
inline const std::string kCompressorPrefix = "laco_compressor.";
/// The marker file of a folder laco saved (checkpoint_save.h): {"complete": bool, "files": [...]}.
inline const std::string kSaveMarker = ".laco-save.json";

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
  /// llava_onevision: config.json's "laco_compressor" entry, when the folder is
  /// a fine-tune with a compressor inside (checked by check_compressor_entry:
  /// "method", "prefix", "block_k", "ratio" required, the other fields typed).
  std::optional<nlohmann::json> compressor;

  /// "llava_onevision: SigLIP 24 px/6, 2 of 2 blocks, width 32 + Qwen2 width 24, 2 layers, vocab 80"
  std::string summary() const;
};

/// The model-type names read (for error messages and `laco --help`).
const std::vector<std::string>& checkpoint_model_types();

/// Reads DIR/config.json. Errors name the file, the field and the allowed
/// values. A folder whose laco save was interrupted (DIR/.laco-save.json says
/// incomplete) is an Error: its files may come from two saves.
CheckpointConfig read_checkpoint_config(const std::string& dir);

/// Checks a "laco_compressor" entry (errors: "FILE: $.laco_compressor.FIELD:
/// problem (allowed: ...)"): an object with a non-empty string "method", "prefix"
/// equal to kCompressorPrefix, "block_k" in 1..vision_depth and a supported
/// "ratio"; where present, "options" an object of strings (MethodOptions),
/// "layer", "init" (one of init_scheme_names() or ""), "source_sha256" and
/// "laco_commit" strings, "depth" equal to vision_depth, "grid_policy" one of
/// grid_policy_names(), "projector" one of "mlp2x_gelu", "method", "".
/// Other keys are kept and not read.
void check_compressor_entry(const nlohmann::json& entry, const std::string& file, int64_t vision_depth);

/// An Error unless `model`'s inserted compressor is the one `entry` describes:
/// the same method() after the same block (compressor_block()), of the same
/// ratio, replacing the projector exactly when "projector" is "method". The
/// message starts with `holder` ("DIR: config.json's laco_compressor holds")
/// and says what was inserted. Usage: check_compressor_matches(entry, *model, dir + ": ...");
void check_compressor_matches(const nlohmann::json& entry, const MllmImpl& model, const std::string& holder);

/// The inserted compressor's parameters and buffers under their stored names
/// (kCompressorPrefix + name), in named_parameters() then named_buffers()
/// order; empty when the model has none.
NamedTensors compressor_tensors(const MllmImpl& model);

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
  int64_t compressor_tensors = 0;          ///< of `tensors`: loaded into the inserted compressor (kCompressorPrefix)
};

/// Loads the weights of a siglip or qwen2 checkpoint into the part it holds
/// (the other pointer must be null), built from read_checkpoint_config: the
/// encoder's depth and post_layernorm decide which stored blocks and final
/// norm are read, and skipped with a reason otherwise.
CheckpointLoad load_checkpoint(const CheckpointConfig& config, VisionEncoderImpl* encoder, DecoderLMImpl* lm);
/// Loads every part the checkpoint holds into an MLLM built from
/// checkpoint_model(config, ...); the parts it lacks keep their weights. A
/// method that replaced the projector skips the stored multi_modal_projector
/// (with that reason); image_newline is loaded into a model built with
/// MllmOptions::image_newline, else skipped. The compressor: when
/// config.compressor is set, the model must have that method inserted after
/// that block (check_compressor_matches) and every one of its parameters and
/// buffers is loaded from kCompressorPrefix + its name, strictly; without an
/// entry an inserted compressor keeps its initialisation (the caller decides
/// whether that is allowed), and a stored tensor under the prefix is an Error.
/// Usage: m->insert(c, k); load_checkpoint(config, *m);
CheckpointLoad load_checkpoint(const CheckpointConfig& config, MllmImpl& model);

/// One stored tensor of a checkpoint and what the model makes of it.
struct StoredTensor {
  std::string file;      ///< the safetensors file holding it
  std::string name;      ///< its stored name
  torch::Tensor stored;  ///< as stored (F32, F16 or BF16)
  /// The model's tensor it stands for, in the stored shape (a view: SigLIP's q
  /// rows of the packed qkv, the position embedding as [N, C]); undefined
  /// when the model holds none for it.
  torch::Tensor model;
  /// Why loading does not read it ("" when it does): a rule of the plan. A
  /// skipped tensor may still stand for a model tensor (a tied lm_head.weight
  /// is embed_tokens), which a save writes in its place.
  std::string skipped;
};

/// The one mapping stored name -> model tensor, for load_checkpoint (which is
/// this with a visitor copying each loaded tensor into `model`) and for
/// save_llava_onevision: reads config's files one at a time, with every check
/// of the loader (index, dtype, shape, unused and missing tensors, the
/// compressor against config.compressor), and calls `visit` for each stored
/// tensor in file order, after its checks. Returns what load_checkpoint would
/// (the counts cover the tensors not skipped). Usage:
///   for_each_stored_tensor(config, *m, [&](const StoredTensor& t) { ... });
CheckpointLoad for_each_stored_tensor(const CheckpointConfig& config, MllmImpl& model,
                                      const std::function<void(const StoredTensor&)>& visit);

/// SHA-256 over the SHA-256 of config.json and of each weight file (in
/// load order): what CheckpointLoad::sha256 is for the same files, without
/// loading them. Usage: spec.checkpoint_sha256 = checkpoint_sha256(dir);
std::string checkpoint_sha256(const std::string& dir);

/// JSON for provenance: {"dir", "model_type", "sha256", "tensors", "skipped"}.
nlohmann::json to_json(const CheckpointConfig& config, const CheckpointLoad& load);

}  // namespace laco
