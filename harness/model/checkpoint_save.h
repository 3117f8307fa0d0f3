// Saving a fine-tuned LLaVA-OneVision model back in the Hugging Face layout it
// was loaded from, with the compressor inserted into it: a folder that
// read_checkpoint_config / load_checkpoint (harness/model/checkpoint.h) and
// `laco generate` read, and that transformers'
// LlavaOnevisionForConditionalGeneration.from_pretrained loads (reporting the
// compressor's tensors as unexpected: docs/checkpoints.md, Fine-tuned folders).
//
// The folder:
//   config.json          the source's config.json (its keys in its order), plus
//                        the caller's "laco_compressor" entry (or without one)
//   model.safetensors    every tensor of the source under its stored name: the
//                        ones the model holds as F32 (the fine-tuned values,
//                        bit for bit: a lower-precision dtype would lose the
//                        fine-tune), the ones it does not hold (layers after
//                        vision_feature_layer, post_layernorm, SigLIP's head,
//                        a projector a method replaced, ...) copied as stored;
//                        then the compressor's parameters and buffers under
//                        kCompressorPrefix, F32. Shards
//                        model-0000i-of-0000n.safetensors with
//                        model.safetensors.index.json, as transformers names
//                        them, when the weights exceed max_shard_bytes.
//   tokenizer.json, ...  every other top-level file of the source that is not
//                        a weight file (not *.safetensors, *.bin, *.pt, *.pth,
//                        *.ckpt, *.h5, *.msgpack, *.gguf, *.onnx, *.index.json)
//                        nor a dotfile, byte for byte.
//   .laco-save.json      the marker: which files laco wrote, and whether the save finished.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/model/checkpoint.h"
#include "harness/model/mllm.h"

namespace laco {

struct CheckpointSaveOptions {
  /// The largest weight file, in bytes (tensor data plus header): transformers'
  /// save_pretrained default max_shard_size "5GB". A 0.9B-parameter model in
  /// F32 (3.6 GB) stays one model.safetensors. Capped at the data file limit
  /// the loader reads (LACO_MAX_DATA_BYTES, 16 GiB by default), so that every
  /// shard written can be read back; a tensor alone above that cap is an Error.
  uint64_t max_shard_bytes = 5'000'000'000;
};

/// What save_llava_onevision wrote.
struct CheckpointSave {
  std::string dir;
  std::vector<std::string> weight_files;  ///< safetensors file names, in order (then the index, when sharded)
  std::vector<std::string> copied_files;  ///< the source's other files copied, by name
  int64_t model_tensors = 0;              ///< written from the model as F32, the compressor's included
  int64_t compressor_tensors = 0;         ///< of them, under kCompressorPrefix
  int64_t copied_tensors = 0;             ///< the source's tensors the model does not hold, copied as stored
  uint64_t weight_bytes = 0;              ///< of the weight files
};

/// Saves `model` (built by checkpoint_model(source, ...), loaded from `source`
/// and fine-tuned) into `out_dir` in `source`'s layout: its config.json with
/// `compressor_entry` as "laco_compressor", its tensor names, its other
/// files (the header above lists them). `compressor_entry` is the caller's
/// description of the inserted compressor ({"method", "options", "layer",
/// "block_k", "depth", "ratio", "grid_policy", "init", "projector", "prefix":
/// kCompressorPrefix, "source_sha256", "laco_commit"}); it is checked as
/// read_checkpoint_config checks it (check_compressor_entry) and against the
/// model (check_compressor_matches). It may be null only when the model has
/// no compressor with weights: the folder then has no entry (and no
/// compressor tensors).
///
/// `out_dir` is created when missing. An existing folder that is not empty
/// must be an earlier save of laco (it holds .laco-save.json): its files are
/// replaced one by one, and those of the earlier save this one does not write
/// (shards of another count) removed; any other non-empty folder is an Error
/// and nothing is written. So is out_dir = the source folder. Every file is
/// written atomically (a temporary, then a rename); the marker says
/// "complete": false until the last one is in place, and
/// read_checkpoint_config refuses a folder whose save did not finish.
/// The source's weight files are read again (the tensors the model does not
/// hold come from them, and every check of load_checkpoint runs).
///
/// Usage:
///   const auto source = read_checkpoint_config(dir);
///   Mllm m(checkpoint_model(source, base));  m->insert(c, k);  load_checkpoint(source, *m);
///   ... fine-tune m ...
///   save_llava_onevision(*m, source, {{"method", "laco"}, {"prefix", kCompressorPrefix}, {"block_k", k},
///                                     {"ratio", 2}, ...}, out_dir);
///   // later: const auto c = read_checkpoint_config(out_dir); fresh model, same method inserted; load_checkpoint(c, *fresh);
/// checkpoint_sha256(out_dir) is the saved folder's identity.
CheckpointSave save_llava_onevision(MllmImpl& model, const CheckpointConfig& source,
                                    const nlohmann::json& compressor_entry, const std::string& out_dir,
                                    const CheckpointSaveOptions& options = {});

}  // namespace laco
