#include "harness/model/checkpoint_save.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/limits.h"
#include "harness/base/safetensors.h"
#include "harness/base/text.h"

namespace laco {

namespace fs = std::filesystem;

namespace {

const std::string kSingle = "model.safetensors", kIndex = "model.safetensors.index.json", kConfig = "config.json";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// Weight files of any format a Hugging Face folder may hold: never copied
/// (the saved weights replace the safetensors; a stale .bin beside them would
/// hold the weights before the fine-tune).
bool is_weight_file(const std::string& name) {
  for (const char* ext : {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".ot",
                          ".index.json"})
    if (ends_with(name, ext)) return true;
  return false;
}

/// The source's files a saved folder carries over byte for byte: top-level
/// regular files (or links to one), not config.json, not weights, not dotfiles.
std::vector<std::string> files_to_copy(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    std::error_code ec;
    if (name.empty() || name[0] == '.' || name == kConfig || is_weight_file(name) || !fs::is_regular_file(entry.path(), ec))
      continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// The files an earlier save listed in out_dir's marker (plain names only).
std::vector<std::string> previous_save(const fs::path& dir) {
  std::vector<std::string> names;
  const fs::path marker = dir / kSaveMarker;
  if (!fs::exists(marker)) return names;
  const nlohmann::json m = read_json_file(marker.string());
  if (m.is_object() && m.contains("files") && m["files"].is_array())
    for (const auto& f : m["files"])
      if (f.is_string()) {
        const std::string name = f.get<std::string>();
        if (!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..") names.push_back(name);
      }
  return names;
}

void write_marker(const fs::path& dir, const std::string& source, bool complete, const std::vector<std::string>& files) {
  const nlohmann::json m = {{"written_by", "laco save_llava_onevision (harness/model/checkpoint_save.h)"},
                            {"source", source},
                            {"complete", complete},
                            {"files", files}};
  write_file_atomically((dir / kSaveMarker).string(), m.dump(2) + "\n");
}

/// out_dir may be missing, empty, or an earlier save of laco; never the source.
void check_out_dir(const std::string& out_dir, const std::string& source_dir) {
  if (out_dir.empty()) fail("save_llava_onevision: the output folder is empty (allowed: a new or empty folder)");
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return;
  if (!fs::is_directory(out_dir, ec))
    fail("{}: exists and is not a folder (allowed: a new or empty folder, or one laco saved before); nothing was "
         "written",
         out_dir);
  if (fs::equivalent(out_dir, source_dir, ec))
    fail("{}: is the source checkpoint folder; save the fine-tuned model to another folder (nothing was written)",
         out_dir);
  if (fs::is_empty(out_dir, ec) || fs::exists(fs::path(out_dir) / kSaveMarker)) return;
  std::vector<std::string> some;
  for (const auto& entry : fs::directory_iterator(out_dir)) {
    if (some.size() == 3) {
      some.push_back("...");
      break;
    }
    some.push_back(entry.path().filename().string());
  }
  fail("{}: is not empty ({}) and is not a folder laco saved (it has no {}): choose a new or empty folder, so that no "
       "file of yours is replaced; nothing was written",
       out_dir, join(some), kSaveMarker);
}

/// One tensor of the saved folder.
struct OutTensor {
  std::string name;
  torch::Tensor tensor;  ///< as written: F32 for the model's, the stored dtype for a copy
  uint64_t bytes = 0;    ///< of its data
};

/// Bytes of a safetensors file header entry for `t`, generously: the name
/// quoted, dtype, shape and offsets with their punctuation.
uint64_t header_bytes(const OutTensor& t) { return t.name.size() + 96 + 21 * t.tensor.dim(); }

/// Consecutive runs of `tensors`, each file at most `cap` bytes (as
/// transformers' split_torch_state_dict_into_shards: a new shard when the
/// next tensor would not fit; a tensor larger than the cap alone).
std::vector<std::vector<size_t>> plan_shards(const std::vector<OutTensor>& tensors, uint64_t cap) {
  std::vector<std::vector<size_t>> shards;
  uint64_t size = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t need = tensors[i].bytes + header_bytes(tensors[i]);
    if (shards.empty() || (size > 0 && size + need > cap)) {
      shards.emplace_back();
      size = 8;  // the header length
    }
    shards.back().push_back(i);
    size += need;
  }
  if (shards.empty()) shards.emplace_back();
  return shards;
}

}  // namespace

CheckpointSave save_llava_onevision(MllmImpl& model, const CheckpointConfig& source,
                                    const nlohmann::json& compressor_entry, const std::string& out_dir,
                                    const CheckpointSaveOptions& options) {
  if (source.kind != "llava_onevision")
    fail("{}: a {} checkpoint cannot hold a fine-tuned MLLM (allowed: a llava_onevision folder as the source)",
         source.dir, source.kind);
  const fs::path out(out_dir);
  const std::string out_config = (out / kConfig).string();

  // The compressor: described by the entry exactly when it has weights to save.
  const NamedTensors compressor = compressor_tensors(model);
  if (compressor_entry.is_null()) {
    if (!compressor.empty())
      fail("{}: the model's compressor '{}' has weights but no {} entry was given: the folder could not say which "
           "compressor its {}* tensors belong to (pass the entry: method, prefix, block_k, ratio, ...)",
           out_config, model.encoder->compressor()->method(), kCompressorEntry, kCompressorPrefix);
  } else {
    check_compressor_entry(compressor_entry, out_config, source.encoder->depth());
    check_compressor_matches(compressor_entry, model,
                             fmt::format("{}: the {} entry given describes", out_config, kCompressorEntry));
  }
  check_out_dir(out_dir, source.dir);
  if (options.max_shard_bytes == 0) fail("save_llava_onevision: max_shard_bytes must be positive");

  // Every stored tensor of the source, by the loader's own mapping: the model's value where it holds one.
  CheckpointSave result;
  result.dir = out_dir;
  std::vector<OutTensor> tensors;
  std::set<std::string> written;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    tensors.push_back({name, t, static_cast<uint64_t>(t.numel()) * t.element_size()});
    written.insert(name);
  };
  for_each_stored_tensor(source, model, [&](const StoredTensor& t) {
    if (t.model.defined()) {
      add(t.name, t.model.detach().to(torch::kFloat32));
      ++result.model_tensors;
      if (t.name.rfind(kCompressorPrefix, 0) == 0) ++result.compressor_tensors;
    } else {
      add(t.name, t.stored);
      ++result.copied_tensors;
    }
  });
  for (const auto& [name, t] : compressor)
    if (!written.count(name)) {
      add(name, t.detach().to(torch::kFloat32));
      ++result.model_tensors;
      ++result.compressor_tensors;
    }

  // The shards, each readable back within the data file limit.
  const uint64_t limit = input_limit(InputLimit::kDataBytes);
  const uint64_t cap = std::min<uint64_t>(options.max_shard_bytes, limit);
  for (const auto& t : tensors)
    if (t.bytes + header_bytes(t) + 8 > limit)
      fail("{}: tensor '{}' alone is {} bytes as {}, more than the data file limit of {} bytes the loader reads "
           "(raise it with LACO_MAX_DATA_BYTES)",
           out_dir, t.name, t.bytes, c10::toString(t.tensor.scalar_type()), limit);
  const auto shards = plan_shards(tensors, cap);
  for (size_t i = 0; i < shards.size(); ++i)
    result.weight_files.push_back(shards.size() == 1 ? kSingle
                                                     : fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1,
                                                                   shards.size()));

  // config.json: the source's, its keys in their order, with the entry last (or none).
  nlohmann::ordered_json config;
  {
    const std::string text = read_file_bytes((fs::path(source.dir) / kConfig).string());
    config = nlohmann::ordered_json::parse(text);  // read_checkpoint_config has checked it
  }
  config.erase(kCompressorEntry);
  if (!compressor_entry.is_null()) config[kCompressorEntry] = nlohmann::ordered_json::parse(compressor_entry.dump());

  result.copied_files = files_to_copy(source.dir);
  std::vector<std::string> now = result.weight_files;
  if (shards.size() > 1) now.push_back(kIndex);
  now.insert(now.end(), result.copied_files.begin(), result.copied_files.end());
  now.push_back(kConfig);

  // Write: the marker first (incomplete, naming every file this save or the
  // last one may leave), the files one by one, then the stale ones removed
  // and the marker completed.
  const std::vector<std::string> before = previous_save(out);
  std::vector<std::string> either = now;
  for (const auto& name : before)
    if (std::find(either.begin(), either.end(), name) == either.end()) either.push_back(name);
  {
    const MadeDirectories made(out_dir);
    try {
      write_marker(out, source.dir, false, either);
    } catch (...) {
      made.undo();
      throw;
    }
  }
  const std::map<std::string, std::string> metadata = {{"format", "pt"}};  // transformers requires it
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    NamedTensors shard;
    for (size_t k : shards[i]) {
      shard.emplace_back(tensors[k].name, tensors[k].tensor);
      weight_map[tensors[k].name] = result.weight_files[i];
      total += tensors[k].bytes;
    }
    const std::string bytes = serialize_safetensors(shard, metadata);
    result.weight_bytes += bytes.size();
    write_file_atomically((out / result.weight_files[i]).string(), bytes);
  }
  if (shards.size() > 1)
    write_file_atomically((out / kIndex).string(),
                          nlohmann::json({{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}).dump(2) +
                              "\n");
  for (const auto& name : result.copied_files)
    write_file_atomically((out / name).string(),
                          read_file_bytes((fs::path(source.dir) / name).string(), InputLimit::kDataBytes));
  write_file_atomically(out_config, config.dump(2) + "\n");
  for (const auto& name : before)
    if (std::find(now.begin(), now.end(), name) == now.end()) {
      std::error_code ec;
      fs::remove(out / name, ec);
    }
  write_marker(out, source.dir, true, now);
  read_checkpoint_config(out_dir);  // the folder reads back: config.json, the entry, the weight files' size
  return result;
}

}  // namespace laco
