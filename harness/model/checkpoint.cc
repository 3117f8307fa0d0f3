#include "harness/model/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/memory.h"
#include "harness/base/safetensors.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"
#include "harness/model/grid.h"
#include "harness/model/init.h"
#include "harness/model/parameters.h"

namespace laco {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- config.json

const std::vector<std::string> kSiglipTypes = {"siglip_vision_model", "siglip"};
const std::string kQwen2 = "qwen2", kLlavaOnevision = "llava_onevision";

/// Reads config fields with transformers' defaults; every error names the file and the JSON path.
class ConfigReader {
 public:
  ConfigReader(const JsonChecker& ck, const nlohmann::json& obj, std::string path)
      : ck_(ck), obj_(obj), path_(std::move(path)) {
    if (!obj_.is_object()) ck_.error(path_, "must be an object, got {}", ck_.describe(obj_));
  }
  std::string at(const std::string& key) const { return path_ + "." + key; }
  bool has(const std::string& key) const { return obj_.contains(key) && !obj_[key].is_null(); }
  const nlohmann::json& raw(const std::string& key) const { return obj_[key]; }

  /// An integer in [min, max] (kConfigRange: what the field may hold).
  int64_t integer(const std::string& key, int64_t fallback, int64_t max, int64_t min = 1) const {
    return has(key) ? ck_.integer(obj_[key], at(key), min, max) : fallback;
  }
  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    if (!obj_[key].is_number() || !(obj_[key].get<double>() > 0))
      ck_.error(at(key), "must be a positive number, got {}", ck_.describe(obj_[key]));
    return obj_[key].get<double>();
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!obj_[key].is_boolean()) ck_.error(at(key), "must be true or false, got {}", ck_.describe(obj_[key]));
    return obj_[key].get<bool>();
  }
  /// A string field that must be one of `allowed` (the first is transformers' default).
  std::string choice(const std::string& key, const std::vector<std::string>& allowed, const std::string& why) const {
    if (!has(key)) return allowed.front();
    const std::string v = ck_.string(obj_[key], at(key));
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      ck_.error(at(key), "'{}' is not supported (allowed: {}): {}", v, join(allowed), why);
    return v;
  }

 private:
  const JsonChecker& ck_;
  const nlohmann::json& obj_;
  std::string path_;
};

// The ranges of config.json's shapes: about four times the largest released
// model of each family in every dimension (SigLIP so400m: width 1152, MLP
// 4304, 27 layers, 16 heads, 384 px; Qwen2-72B: width 8192, MLP 29568, 80
// layers, 64 heads; vocabularies of 152k), so that no real checkpoint is
// refused, while each product of them (tokens x width, layers x width^2,
// vocab x width) stays far inside 64 bits and a 10^9 in one field is an
// error naming it, not an allocation. What the whole model then needs is
// checked against its weight files and the memory there is (check_size).
struct SiglipRange {
  static constexpr int64_t kWidth = 16384, kMlp = 65536, kHeads = 256, kLayers = 256, kImage = 4096, kPatch = 256,
                           kChannels = 4;
};
struct Qwen2Range {
  static constexpr int64_t kVocab = int64_t{1} << 22, kWidth = 32768, kMlp = 131072, kLayers = 512, kHeads = 512;
};

/// SiglipVisionConfig, with its defaults (transformers' configuration_siglip.py).
EncoderOptions read_siglip(const ConfigReader& r, int64_t* layers, bool* use_head, bool default_head) {
  using R = SiglipRange;
  EncoderOptions e;
  e.width(r.integer("hidden_size", 768, R::kWidth))
      .mlp_dim(r.integer("intermediate_size", 3072, R::kMlp))
      .heads(r.integer("num_attention_heads", 12, R::kHeads))
      .channels(r.integer("num_channels", 3, R::kChannels))
      .image_size(r.integer("image_size", 224, R::kImage))
      .patch_size(r.integer("patch_size", 16, R::kPatch))
      .ln_eps(r.number("layer_norm_eps", 1e-6));
  *layers = r.integer("num_hidden_layers", 12, R::kLayers);
  e.depth(*layers);
  r.choice("hidden_act", {"gelu_pytorch_tanh"}, "the harness's encoder MLP is SigLIP's tanh GELU");
  *use_head = r.boolean("vision_use_head", default_head);
  return e;
}

/// Qwen2Config, with its defaults (transformers' configuration_qwen2.py).
LmOptions read_qwen2(const ConfigReader& r, const ConfigReader* outer) {
  using R = Qwen2Range;
  LmOptions l;
  l.vocab(r.integer("vocab_size", 151936, R::kVocab))
      .width(r.integer("hidden_size", 4096, R::kWidth))
      .mlp_dim(r.integer("intermediate_size", 22016, R::kMlp))
      .layers(r.integer("num_hidden_layers", 32, R::kLayers))
      .heads(r.integer("num_attention_heads", 32, R::kHeads))
      .rope_theta(r.number("rope_theta", 10000.0))
      .rms_eps(r.number("rms_norm_eps", 1e-6));
  l.kv_heads(r.integer("num_key_value_heads", l.heads(), l.heads()));
  bool tied = outer ? outer->boolean("tie_word_embeddings", false) : false;
  l.tie_embeddings(r.boolean("tie_word_embeddings", tied));
  r.choice("hidden_act", {"silu"}, "the harness's LM MLP is Qwen2's SwiGLU");
  if (r.has("head_dim") && r.integer("head_dim", 0, R::kWidth) * l.heads() != l.width())
    fail("{}: head_dim {} with {} heads does not give hidden_size {}; the harness's LM has head_dim = hidden_size / "
         "num_attention_heads",
         r.at("head_dim"), r.integer("head_dim", 0, R::kWidth), l.heads(), l.width());
  if (r.has("rope_scaling"))
    fail("{}: rope_scaling is not supported (allowed: null): the harness's rotary embedding is Qwen2's default one",
         r.at("rope_scaling"));
  if (r.boolean("use_sliding_window", false))
    fail("{}: sliding-window attention is not supported (allowed: false)", r.at("use_sliding_window"));
  l.validate();
  return l;
}

std::string shape_str(c10::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

// ------------------------------------------------------------------ loading

/// Where one stored tensor goes: a parameter, or a slice of one (SigLIP's q, k
/// and v rows of the packed qkv), viewed in the stored shape.
struct Target {
  torch::Tensor dest;  ///< a view of the parameter, in the stored shape
  std::string ours;    ///< the parameter's name here, for messages
};

/// A rule that skips stored tensors on purpose: which names, why, and the
/// model tensor such a name still stands for (a tied lm_head.weight is
/// embed_tokens: loading does not read it, a save writes the model's value).
struct Skip {
  std::function<bool(const std::string&)> match;
  std::string why;
  torch::Tensor stands_for;
};

/// Stored names -> targets, and the rules that skip stored tensors on purpose.
struct LoadPlan {
  std::map<std::string, Target> targets;
  std::vector<Skip> skips;

  void add(const std::string& stored, torch::Tensor dest, const std::string& ours) {
    targets[stored] = {std::move(dest), ours};
  }
  /// weight and bias of a Linear / LayerNorm.
  void add_affine(const std::string& stored, torch::nn::Module& m, const std::string& ours, bool bias = true) {
    add(stored + ".weight", m.named_parameters(false)["weight"], ours + ".weight");
    if (bias) add(stored + ".bias", m.named_parameters(false)["bias"], ours + ".bias");
  }
  void skip_prefix(const std::string& prefix, const std::string& why) {
    skips.push_back({[prefix](const std::string& n) { return n.rfind(prefix, 0) == 0; }, why, {}});
  }
  void skip_name(const std::string& name, const std::string& why, torch::Tensor stands_for = {}) {
    skips.push_back({[name](const std::string& n) { return n == name; }, why, std::move(stands_for)});
  }
  const Skip* skip_of(const std::string& name) const {
    for (const auto& s : skips)
      if (s.match(name)) return &s;
    return nullptr;
  }
};

void plan_encoder(LoadPlan& plan, const std::string& p, VisionEncoderImpl& enc, int64_t stored_layers,
                  bool stored_head) {
  const int64_t c = enc.options().width(), n = enc.options().grid().tokens();
  plan.add_affine(p + "embeddings.patch_embedding", *enc.patch_embed, "patch_embed");
  plan.add(p + "embeddings.position_embedding.weight", enc.pos_embed.view({n, c}), "pos_embed");
  for (int64_t i = 0; i < enc.options().depth(); ++i) {
    auto& b = *enc.blocks[i]->as<EncoderBlockImpl>();
    const std::string s = fmt::format("{}encoder.layers.{}.", p, i), o = fmt::format("blocks.{}.", i);
    plan.add_affine(s + "layer_norm1", *b.ln1, o + "ln1");
    const char* qkv[] = {"q_proj", "k_proj", "v_proj"};
    for (int j = 0; j < 3; ++j) {
      plan.add(s + "self_attn." + qkv[j] + ".weight", b.qkv->weight.narrow(0, j * c, c), o + "qkv.weight");
      plan.add(s + "self_attn." + qkv[j] + ".bias", b.qkv->bias.narrow(0, j * c, c), o + "qkv.bias");
    }
    plan.add_affine(s + "self_attn.out_proj", *b.proj, o + "proj");
    plan.add_affine(s + "layer_norm2", *b.ln2, o + "ln2");
    plan.add_affine(s + "mlp.fc1", *b.fc1, o + "fc1");
    plan.add_affine(s + "mlp.fc2", *b.fc2, o + "fc2");
  }
  for (int64_t i = enc.options().depth(); i < stored_layers; ++i)
    plan.skip_prefix(fmt::format("{}encoder.layers.{}.", p, i),
                     "a layer after the one whose hidden state the model uses (vision_feature_layer)");
  if (enc.post_layernorm)
    plan.add_affine(p + "post_layernorm", *enc.post_layernorm, "post_layernorm");
  else
    plan.skip_prefix(p + "post_layernorm.",
                     "post_layernorm: LLaVA's projector takes the hidden state before it (vision_feature_layer)");
  if (stored_head)
    plan.skip_prefix(p + "head.", "SigLIP's attention-pooling head (pooler_output); an MLLM uses the patch tokens");
}

void plan_lm(LoadPlan& plan, const std::string& model, const std::string& head, DecoderLMImpl& lm) {
  plan.add(model + "embed_tokens.weight", lm.embed_tokens->weight, "embed_tokens.weight");
  for (int64_t i = 0; i < lm.options().layers(); ++i) {
    auto& l = *lm.layers[i]->as<DecoderLayerImpl>();
    const std::string s = fmt::format("{}layers.{}.", model, i), o = fmt::format("layers.{}.", i);
    plan.add_affine(s + "input_layernorm", *l.input_layernorm, o + "input_layernorm", false);
    plan.add_affine(s + "self_attn.q_proj", *l.q_proj, o + "q_proj");
    plan.add_affine(s + "self_attn.k_proj", *l.k_proj, o + "k_proj");
    plan.add_affine(s + "self_attn.v_proj", *l.v_proj, o + "v_proj");
    plan.add_affine(s + "self_attn.o_proj", *l.o_proj, o + "o_proj", false);
    plan.add_affine(s + "post_attention_layernorm", *l.post_attention_layernorm, o + "post_attention_layernorm", false);
    plan.add_affine(s + "mlp.gate_proj", *l.gate_proj, o + "gate_proj", false);
    plan.add_affine(s + "mlp.up_proj", *l.up_proj, o + "up_proj", false);
    plan.add_affine(s + "mlp.down_proj", *l.down_proj, o + "down_proj", false);
  }
  plan.add_affine(model + "norm", *lm.norm, "norm", false);
  if (lm.lm_head)
    plan.add(head + "lm_head.weight", lm.lm_head->weight, "lm_head.weight");
  else
    plan.skip_name(head + "lm_head.weight", "tie_word_embeddings: the head is embed_tokens, the stored copy is not read",
                   lm.embed_tokens->weight);
}

/// The safetensors files of a checkpoint folder and which holds each tensor
/// (from model.safetensors.index.json when sharded; empty for a single file).
struct Files {
  std::vector<std::string> paths;
  std::map<std::string, std::string> weight_map;  ///< tensor -> file path
  std::string index;                              ///< the index file, when sharded
};

Files find_files(const std::string& dir) {
  Files f;
  const fs::path single = fs::path(dir) / "model.safetensors", index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(index)) {
    f.index = index.string();
    const nlohmann::json j = read_json_file(f.index);
    JsonChecker ck(f.index);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object() || j["weight_map"].empty())
      ck.error("$.weight_map", "must be a non-empty object mapping each tensor name to its shard file");
    for (const auto& [name, file] : j["weight_map"].items()) {
      const std::string shard = ck.string(file, "$.weight_map." + name, "a shard file name");
      if (shard.empty() || fs::path(shard).has_parent_path())
        ck.error("$.weight_map." + name, "'{}' must be a file name in the checkpoint folder", shard);
      const std::string path = (fs::path(dir) / shard).string();
      if (std::find(f.paths.begin(), f.paths.end(), path) == f.paths.end()) f.paths.push_back(path);
      f.weight_map[name] = path;
    }
    std::sort(f.paths.begin(), f.paths.end());
  } else if (fs::exists(single)) {
    f.paths.push_back(single.string());
  } else {
    fail("{}: no model.safetensors and no model.safetensors.index.json (the Hugging Face layout of a checkpoint "
         "folder); .bin (pickle) checkpoints are not read",
         dir);
  }
  return f;
}

/// The stored-name prefixes of a checkpoint's parts.
struct Prefixes {
  std::string vision, projector, lm_model, lm_head;
  std::string top;  ///< of LLaVA's own tensors (image_newline)
};

/// LLaVA-OneVision saved by transformers < 4.52 uses vision_tower.*,
/// multi_modal_projector.*, language_model.model.*, language_model.lm_head.*;
/// from 4.52 on model.vision_tower.*, model.multi_modal_projector.*,
/// model.language_model.*, lm_head.*. The stored names tell which.
Prefixes prefixes_of(const CheckpointConfig& config, const std::vector<std::string>& stored) {
  if (config.kind == "siglip") return {"vision_model.", "", "", "", ""};
  if (config.kind == kQwen2) return {"", "", "model.", "", ""};
  const bool new_names = std::any_of(stored.begin(), stored.end(), [](const std::string& n) {
    return n.rfind("model.vision_tower.", 0) == 0 || n.rfind("model.language_model.", 0) == 0;
  });
  if (new_names)
    return {"model.vision_tower.vision_model.", "model.multi_modal_projector.", "model.language_model.", "", "model."};
  return {"vision_tower.vision_model.", "multi_modal_projector.", "language_model.model.", "language_model.", ""};
}

/// The checkpoint's identity from the SHA-256 of config.json and of each weight file, in order.
std::string combined_digest(const std::vector<std::string>& digests) { return sha256_hex(join(digests, "")); }

/// Reads the checkpoint's files one at a time, checks each stored tensor
/// against the plan `make` builds for its tensor names (the index's, or the
/// single file's once it is read) and hands it to `visit`.
CheckpointLoad run_plan(const CheckpointConfig& config, const std::function<LoadPlan(const Prefixes&)>& make,
                        const std::function<void(const StoredTensor&)>& visit) {
  const Files files = find_files(config.dir);
  std::optional<LoadPlan> plan_made;
  if (!files.index.empty()) {
    std::vector<std::string> names;
    for (const auto& [name, file] : files.weight_map) names.push_back(name);
    plan_made = make(prefixes_of(config, names));
  }
  CheckpointLoad load;
  std::vector<std::string> digests = {sha256_hex(read_file_bytes((fs::path(config.dir) / "config.json").string()))};
  std::set<std::string> loaded, seen;
  std::map<std::string, int64_t> skipped_by_rule;
  torch::NoGradGuard no_grad;
  for (const auto& path : files.paths) {
    std::optional<SafeTensors> st;
    {
      const std::string bytes = read_file_bytes(path, InputLimit::kDataBytes);  // freed once parsed
      digests.push_back(sha256_hex(bytes));
      st = SafeTensors::parse(bytes, path);
    }
    if (!plan_made) plan_made = make(prefixes_of(config, st->names()));
    const LoadPlan& plan = *plan_made;
    load.files.push_back(path);
    for (const auto& name : st->names()) {
      if (!seen.insert(name).second) fail("{}: tensor '{}' is stored a second time (already read from another file)", path, name);
      if (!files.index.empty()) {
        auto w = files.weight_map.find(name);
        if (w == files.weight_map.end())
          fail("{}: tensor '{}' is not in {} (its weight_map must list every stored tensor)", path, name, files.index);
        if (w->second != path) fail("{}: tensor '{}' is listed in {} under {}", path, name, files.index, w->second);
      }
      const torch::Tensor& t = st->get(name);
      auto target = plan.targets.find(name);
      if (target == plan.targets.end()) {
        const Skip* skip = plan.skip_of(name);
        if (!skip && name.rfind(kCompressorPrefix, 0) == 0) {
          if (!config.compressor)
            fail("{}: tensor '{}' is a compressor's weight (stored under '{}') but {} has no {} entry saying which "
                 "compressor it belongs to (strict loading: is config.json from another folder?)",
                 path, name, kCompressorPrefix, (fs::path(config.dir) / "config.json").string(), kCompressorEntry);
          std::vector<std::string> have;
          for (const auto& [n, target] : plan.targets)
            if (n.rfind(kCompressorPrefix, 0) == 0) have.push_back(n);
          fail("{}: tensor '{}' is not a parameter or buffer of the inserted compressor '{}' (strict loading; it has: "
               "{})",
               path, name, (*config.compressor)["method"].get<std::string>(), have.empty() ? "none" : join(have));
        }
        if (!skip)
          fail("{}: tensor '{}' is not used by the {} model config.json describes (strict loading: a stored tensor "
               "must be loaded or skipped by a stated rule; is config.json from another model?)",
               path, name, config.kind);
        ++skipped_by_rule[skip->why];
        visit({path, name, t, skip->stands_for, skip->why});
        continue;
      }
      const std::string dtype = t.scalar_type() == torch::kFloat32    ? "F32"
                                : t.scalar_type() == torch::kFloat16  ? "F16"
                                : t.scalar_type() == torch::kBFloat16 ? "BF16"
                                                                      : "";
      if (dtype.empty())
        fail("{}: tensor '{}' is stored as {}; weights must be F32, F16 or BF16", path, name,
             c10::toString(t.scalar_type()));
      const torch::Tensor& dest = target->second.dest;
      if (t.sizes() != dest.sizes())
        fail("{}: tensor '{}' has shape {} but config.json implies {} (for {}); does config.json describe these "
             "weights?",
             path, name, shape_str(t.sizes()), shape_str(dest.sizes()), target->second.ours);
      visit({path, name, t, dest, ""});
      loaded.insert(name);
      ++load.tensors;
      load.values += t.numel();
      ++load.dtypes[dtype];
      if (name.rfind(kCompressorPrefix, 0) == 0) ++load.compressor_tensors;
    }
  }
  for (const auto& [name, w] : files.weight_map)
    if (!seen.count(name)) fail("{}: tensor '{}' is listed there but {} does not hold it", files.index, name, w);
  for (const auto& [name, target] : plan_made->targets)
    if (!loaded.count(name))
      fail("{}: tensor '{}' is missing (needed for {}; read {})", config.dir, name, target.ours, join(load.files));
  for (const auto& [why, count] : skipped_by_rule)
    load.skipped.push_back(fmt::format("{} tensor{}: {}", count, count == 1 ? "" : "s", why));
  load.sha256 = combined_digest(digests);
  return load;
}

/// Loading's visitor: each stored tensor not skipped, converted to float32, into its model tensor.
void copy_into_model(const StoredTensor& t) {
  if (t.skipped.empty()) t.model.copy_(t.stored.to(torch::kFloat32));
}

/// Every stored tensor of `config`'s checkpoint: where it goes in `encoder`,
/// `lm` and, for LLaVA-OneVision, `model`'s projector, or why it is skipped.
LoadPlan make_plan(const CheckpointConfig& config, const Prefixes& p, VisionEncoderImpl* encoder, DecoderLMImpl* lm,
                   MllmImpl* model) {
  LoadPlan plan;
  if (encoder) plan_encoder(plan, p.vision, *encoder, config.vision_layers, config.vision_head);
  if (lm) plan_lm(plan, p.lm_model, p.lm_head, *lm);
  if (config.model_type == "siglip") {
    plan.skip_prefix("text_model.", "SigLIP's text tower");
    plan.skip_name("logit_scale", "SigLIP's contrastive logit scale");
    plan.skip_name("logit_bias", "SigLIP's contrastive logit bias");
  }
  if (config.kind == kLlavaOnevision && model) {
    if (model->method_is_projector()) {
      plan.skip_prefix(p.projector, "the method replaced the mlp2x_gelu projector");
    } else {
      plan.add_affine(p.projector + "linear_1", *model->projector[0], "projector.0");
      plan.add_affine(p.projector + "linear_2", *model->projector[2], "projector.2");
    }
    if (model->image_newline.defined())
      plan.add(p.top + "image_newline", model->image_newline, "image_newline");
    else
      plan.skip_name(p.top + "image_newline",
                     "image_newline: LLaVA-OneVision's row separator in anyres; this run concatenates crops without it");
    // The compressor a fine-tune saved (check_compressor_matches has run): every tensor of it, by its own name.
    if (config.compressor)
      for (const auto& [name, t] : compressor_tensors(*model))
        plan.add(name, t, "encoder.compressor." + name.substr(kCompressorPrefix.size()));
  }
  return plan;
}

}  // namespace

std::string checkpoint_sha256(const std::string& dir) {
  // Hashing a released checkpoint reads gigabytes; a sweep asks once per run:
  // file_sha256 keeps each file's digest while its size and time stay.
  const std::string config = (fs::path(dir) / "config.json").string();
  if (!fs::exists(config)) fail("{}: missing (a checkpoint folder in the Hugging Face layout has config.json)", config);
  std::vector<std::string> paths = {config};
  const Files files = find_files(dir);
  paths.insert(paths.end(), files.paths.begin(), files.paths.end());
  std::vector<std::string> digests;
  for (const auto& p : paths) digests.push_back(file_sha256(p));
  return combined_digest(digests);
}

const std::vector<std::string>& checkpoint_model_types() {
  static const std::vector<std::string> all = [] {
    auto types = kSiglipTypes;
    types.insert(types.end(), {kQwen2, kLlavaOnevision});
    return types;
  }();
  return all;
}

std::string CheckpointConfig::summary() const {
  std::string s = kind;
  if (encoder)
    s += fmt::format(": SigLIP {} px/{}, {} of {} blocks, width {}", encoder->image_size(), encoder->patch_size(),
                     encoder->depth(), vision_layers, encoder->width());
  if (lm)
    s += fmt::format("{}Qwen2 width {}, {} layers, vocab {}, {}", encoder ? " + " : ": ", lm->width(), lm->layers(),
                     lm->vocab(), lm->tie_embeddings() ? "tied head" : "untied head");
  if (compressor)
    s += fmt::format("; fine-tuned with compressor '{}' r={} after vision block {}",
                     (*compressor)["method"].get<std::string>(), (*compressor)["ratio"].get<int64_t>(),
                     (*compressor)["block_k"].get<int64_t>());
  return s;
}

void check_compressor_entry(const nlohmann::json& e, const std::string& file, int64_t vision_depth) {
  const JsonChecker ck(file);
  const std::string at = "$." + kCompressorEntry;
  auto field = [&](const std::string& key) { return at + "." + key; };
  auto has = [&](const std::string& key) { return e.contains(key) && !e[key].is_null(); };
  if (!e.is_object())
    ck.error(at, "must be an object (the compressor inside a fine-tuned model: method, prefix, block_k, ratio, ...), got {}",
             ck.describe(e));
  for (const char* key : {"method", "prefix", "block_k", "ratio"})
    if (!has(key)) ck.error(field(key), "missing (required: method, prefix, block_k, ratio)");
  if (ck.string(e["method"], field("method"), "a method name, e.g. laco").empty())
    ck.error(field("method"), "must not be empty (allowed: a method name, e.g. laco)");
  const std::string prefix = ck.string(e["prefix"], field("prefix"), "\"" + kCompressorPrefix + "\"");
  if (prefix != kCompressorPrefix)
    ck.error(field("prefix"), "'{}' is not read (allowed: {}): the compressor's tensors are stored under that prefix",
             prefix, kCompressorPrefix);
  ck.integer(e["block_k"], field("block_k"), 1, vision_depth,
             fmt::format("the vision block the compressor follows, 1..{} (the blocks the model runs)", vision_depth));
  check_ratio(ck.integer(e["ratio"], field("ratio"), 1, 64, supported_ratios_text()), file + ": " + field("ratio"));
  if (has("depth"))
    ck.integer(e["depth"], field("depth"), vision_depth, vision_depth,
               fmt::format("{}, the vision blocks config.json's vision_feature_layer runs", vision_depth));
  if (has("options")) {
    if (!e["options"].is_object())
      ck.error(field("options"), "expected an object, got {} (allowed: the method's options, strings by name)",
               ck.describe(e["options"]));
    for (const auto& [key, value] : e["options"].items())
      ck.string(value, field("options") + "." + key, "a string: method options are strings, e.g. \"true\"");
  }
  for (const char* key : {"layer", "source_sha256", "laco_commit"})
    if (has(key)) ck.string(e[key], field(key));
  auto one_of = [&](const std::string& key, std::vector<std::string> allowed) {
    if (!has(key)) return;
    const std::string v = ck.string(e[key], field(key), join(allowed));
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
      ck.error(field(key), "'{}' is not read (allowed: {})", v, join(allowed));
  };
  one_of("grid_policy", grid_policy_names());
  std::vector<std::string> inits = init_scheme_names();
  inits.push_back("");
  one_of("init", inits);
  one_of("projector", {"mlp2x_gelu", "method", ""});
}

void check_compressor_matches(const nlohmann::json& entry, const MllmImpl& model, const std::string& holder) {
  const std::string method = entry.at("method").get<std::string>();
  const int64_t k = entry.at("block_k").get<int64_t>(), ratio = entry.at("ratio").get<int64_t>();
  const std::string projector =
      entry.contains("projector") && entry["projector"].is_string() ? entry["projector"].get<std::string>() : "";
  const std::string held = fmt::format("'{}' r={} after vision block {}{}", method, ratio, k,
                                       projector == "method" ? " as the projector" : "");
  const Compressor& c = model.encoder->compressor();
  if (!c)
    fail("{} {}, but the model has no compressor inserted (insert that method after that block before loading)", holder,
         held);
  const std::string inserted = fmt::format("'{}' r={} after block {}{}", c->method(), c->ratio(),
                                           model.encoder->compressor_block(),
                                           model.method_is_projector() ? " as the projector" : "");
  const bool same = c->method() == method && model.encoder->compressor_block() == k && c->ratio() == ratio &&
                    (projector.empty() || (projector == "method") == model.method_is_projector());
  if (!same) fail("{} {}, but the model has {} inserted (insert the method the folder holds)", holder, held, inserted);
}

NamedTensors compressor_tensors(const MllmImpl& model) {
  NamedTensors out;
  const Compressor& c = model.encoder->compressor();
  if (!c) return out;
  for (const auto& p : c->named_parameters(true)) out.emplace_back(kCompressorPrefix + p.key(), p.value());
  for (const auto& b : c->named_buffers(true)) out.emplace_back(kCompressorPrefix + b.key(), b.value());
  return out;
}

namespace {

// Before anything is built: the parameters config.json implies, against what
// its weight files can hold (at least two bytes a parameter, as F16 or BF16)
// and the memory there is (four bytes a parameter: the harness computes in
// float32). A config whose shapes are in range but whose model is far from
// the one stored (a 8192-wide config beside 20 KB of weights) is refused
// here, not by the allocator; a smaller difference (a tensor missing) is left
// to the loader, which names the tensor.
void check_size(const CheckpointConfig& c, const std::string& file) {
  int64_t params = 0;
  if (c.encoder) params += encoder_parameters(*c.encoder);
  if (c.lm) params += lm_parameters(*c.lm);
  const fs::path dir(c.dir);
  // Without weight files the loader says what is missing; with shards, the index names them.
  if (!fs::exists(dir / "model.safetensors") && !fs::exists(dir / "model.safetensors.index.json")) return;
  uint64_t stored = 0;
  for (const auto& path : find_files(c.dir).paths) {
    check_regular_file(path);
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!ec) stored += size;
  }
  const double gb = 1e9, needed = 2.0 * static_cast<double>(params);
  if (needed > std::max(2.0 * static_cast<double>(stored), static_cast<double>(stored) + 64.0 * (1 << 20)))
    fail("{}: its shapes make a model of {} parameters, {:.3g} GB even at 16 bits each, but its weight files hold "
         "{:.3g} GB (allowed: the config of the weights beside it)",
         file, params, 2.0 * static_cast<double>(params) / gb, static_cast<double>(stored) / gb);
  const int64_t available = available_memory_bytes();
  if (available > 0 && 4.0 * static_cast<double>(params) > static_cast<double>(available))
    fail("{}: its model of {} parameters takes {:.3g} GB as float32, more than the {:.3g} GB of memory available here",
         file, params, 4.0 * static_cast<double>(params) / gb, static_cast<double>(available) / gb);
}

}  // namespace

CheckpointConfig read_checkpoint_config(const std::string& dir) {
  if (!fs::is_directory(dir))
    fail("checkpoint '{}' is not a folder (a checkpoint folder holds config.json and model.safetensors or its shards)",
         dir);
  const fs::path marker = fs::path(dir) / kSaveMarker;
  if (fs::exists(marker)) {
    const nlohmann::json m = read_json_file(marker.string());
    if (!m.is_object() || !m.contains("complete") || m["complete"] != true)
      fail("{}: a laco save into {} did not finish ({} says it is incomplete): its files may come from two saves; save "
           "the model again",
           marker.string(), dir, kSaveMarker);
  }
  CheckpointConfig c;
  c.dir = dir;
  const std::string file = (fs::path(dir) / "config.json").string();
  if (!fs::exists(file)) fail("{}: missing (a checkpoint folder in the Hugging Face layout has config.json)", file);
  const nlohmann::json j = read_json_file(file);
  JsonChecker ck(file);
  const ConfigReader top(ck, j, "$");
  if (!top.has("model_type"))
    ck.error("$.model_type", "missing (allowed: {})", join(checkpoint_model_types()));
  c.model_type = ck.string(j["model_type"], "$.model_type");
  if (std::find(kSiglipTypes.begin(), kSiglipTypes.end(), c.model_type) != kSiglipTypes.end()) {
    c.kind = "siglip";
    if (c.model_type == "siglip") {
      if (!top.has("vision_config")) ck.error("$.vision_config", "missing: a SiglipModel config nests its vision tower there");
      const ConfigReader v(ck, j["vision_config"], "$.vision_config");
      c.encoder = read_siglip(v, &c.vision_layers, &c.vision_head, true);
    } else {
      c.encoder = read_siglip(top, &c.vision_layers, &c.vision_head, true);
    }
    c.encoder->post_layernorm(true);
  } else if (c.model_type == kQwen2) {
    c.kind = kQwen2;
    c.lm = read_qwen2(top, nullptr);
    c.context = top.integer("max_position_embeddings", 32768, int64_t{1} << 24);
  } else if (c.model_type == kLlavaOnevision) {
    c.kind = kLlavaOnevision;
    for (const char* part : {"vision_config", "text_config"})
      if (!top.has(part)) ck.error(fmt::format("$.{}", part), "missing: the harness does not guess LLaVA-OneVision's parts");
    const ConfigReader v(ck, j["vision_config"], "$.vision_config"), t(ck, j["text_config"], "$.text_config");
    v.choice("model_type", kSiglipTypes, "LLaVA-OneVision's vision tower is SigLIP's");
    t.choice("model_type", {kQwen2}, "LLaVA-OneVision's language model is Qwen2");
    c.encoder = read_siglip(v, &c.vision_layers, &c.vision_head, false);
    c.lm = read_qwen2(t, &top);
    c.context = t.integer("max_position_embeddings", 32768, int64_t{1} << 24);
    top.choice("vision_feature_select_strategy", {"full"},
               "SigLIP has no CLS token for 'default' to drop; LLaVA-OneVision uses full");
    top.choice("projector_hidden_act", {"gelu"}, "the harness's mlp2x_gelu projector uses the exact GELU");
    if (top.has("multimodal_projector_bias") && !top.boolean("multimodal_projector_bias", true))
      ck.error("$.multimodal_projector_bias", "false is not supported (allowed: true)");
    int64_t layer = -1;
    if (top.has("vision_feature_layer")) {
      if (!j["vision_feature_layer"].is_number_integer())
        ck.error("$.vision_feature_layer", "must be one integer (a list of layers is not supported), got {}",
                 ck.describe(j["vision_feature_layer"]));
      layer = j["vision_feature_layer"].get<int64_t>();
    }
    // hidden_states[0] is the embedding, hidden_states[i] the output of layer i.
    const int64_t used = layer < 0 ? c.vision_layers + 1 + layer : layer;
    if (used < 1 || used > c.vision_layers)
      ck.error("$.vision_feature_layer", "{} selects hidden state {} of a {}-layer encoder (allowed: -{}..-1 or 1..{})",
               layer, used, c.vision_layers, c.vision_layers, c.vision_layers);
    c.encoder->depth(used);
    c.image_token = top.integer("image_token_index", 151646, c.lm->vocab() - 1, 0);
    const std::string aspect = top.has("vision_aspect_ratio") ? ck.string(j["vision_aspect_ratio"], "$.vision_aspect_ratio")
                                                              : "anyres_max_9";
    const std::string prefix = "anyres_max_";
    const std::string digits = aspect.rfind(prefix, 0) == 0 ? aspect.substr(prefix.size()) : "";
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(digits) < 1)
      ck.error("$.vision_aspect_ratio", "'{}' is not read (allowed: anyres_max_N with N >= 1, LLaVA-OneVision's "
               "anyres_max_9)", aspect);
    c.anyres_max_tiles = std::stoi(digits);
    if (top.has("image_grid_pinpoints")) {
      const auto& g = j["image_grid_pinpoints"];
      if (!g.is_array() || g.empty() || g.size() > 1024)
        ck.error("$.image_grid_pinpoints", "must be a list of 1..1024 [height, width] pairs, got {}", ck.describe(g));
      for (size_t i = 0; i < g.size(); ++i) {
        const std::string at = fmt::format("$.image_grid_pinpoints[{}]", i);
        if (!g[i].is_array() || g[i].size() != 2) ck.error(at, "must be a [height, width] pair, got {}", ck.describe(g[i]));
        c.grid_pinpoints.emplace_back(ck.integer(g[i][0], at + "[0]", 1, 1 << 16), ck.integer(g[i][1], at + "[1]", 1, 1 << 16));
      }
    }
    if (j.contains(kCompressorEntry)) {
      check_compressor_entry(j[kCompressorEntry], file, c.encoder->depth());
      c.compressor = j[kCompressorEntry];
    }
  } else if (c.model_type == "llava" || c.model_type == "llava_qwen") {
    ck.error("$.model_type",
             "'{}' is the original LLaVA(-NeXT) layout (mm_projector, no vision config), which is not read (allowed: "
             "{}); use its transformers conversion, e.g. llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
             c.model_type, join(checkpoint_model_types()));
  } else {
    ck.error("$.model_type", "'{}' is not supported (allowed: {})", c.model_type, join(checkpoint_model_types()));
  }
  if (c.kind != kLlavaOnevision && j.contains(kCompressorEntry))
    ck.error("$." + kCompressorEntry, "a {} folder holds no compressor (allowed: the entry in a llava_onevision folder)",
             c.model_type);
  if (c.encoder) {
    try {
      c.encoder->validate();  // image_size need not be a multiple: 384 px / 14 gives SigLIP's 27 x 27 (valid conv)
    } catch (const Error& e) {
      fail("{}: {}", file, e.what());
    }
  }
  check_size(c, file);
  return c;
}

MllmOptions checkpoint_model(const CheckpointConfig& config, const MllmOptions& base) {
  MllmOptions m = base;
  if (config.encoder) {
    m.encoder = *config.encoder;
    m.encoder.post_layernorm(false).fused_inference(base.encoder.fused_inference());
  }
  if (config.lm) m.lm = *config.lm;
  return m;
}

CheckpointLoad load_checkpoint(const CheckpointConfig& config, VisionEncoderImpl* encoder, DecoderLMImpl* lm) {
  if (config.kind == "siglip" && (!encoder || lm)) fail("{}: a SigLIP checkpoint loads into an encoder alone", config.dir);
  if (config.kind == kQwen2 && (encoder || !lm)) fail("{}: a Qwen2 checkpoint loads into an LM alone", config.dir);
  if (config.kind == kLlavaOnevision)
    fail("{}: a {} checkpoint loads into a whole MLLM (load_checkpoint(config, model))", config.dir, config.kind);
  return run_plan(config, [&](const Prefixes& p) { return make_plan(config, p, encoder, lm, nullptr); }, copy_into_model);
}

CheckpointLoad for_each_stored_tensor(const CheckpointConfig& config, MllmImpl& model,
                                      const std::function<void(const StoredTensor&)>& visit) {
  const auto expect = checkpoint_model(config, model.options());
  const auto& have = model.options();
  if (config.encoder && (have.encoder.width() != expect.encoder.width() || have.encoder.depth() != expect.encoder.depth() ||
                         have.encoder.image_size() != expect.encoder.image_size()))
    fail("{}: the model was not built from this checkpoint's config (use checkpoint_model)", config.dir);
  if (config.compressor)
    check_compressor_matches(*config.compressor, model, config.dir + ": config.json's " + kCompressorEntry + " holds");
  return run_plan(
      config,
      [&](const Prefixes& p) {
        return make_plan(config, p, config.encoder ? model.encoder.get() : nullptr, config.lm ? model.lm.get() : nullptr,
                         &model);
      },
      visit);
}

CheckpointLoad load_checkpoint(const CheckpointConfig& config, MllmImpl& model) {
  return for_each_stored_tensor(config, model, copy_into_model);
}

nlohmann::json to_json(const CheckpointConfig& config, const CheckpointLoad& load) {
  nlohmann::json j = {{"dir", config.dir},           {"model_type", config.model_type}, {"summary", config.summary()},
                      {"sha256", load.sha256},       {"tensors", load.tensors},         {"values", load.values},
                      {"dtypes", load.dtypes},       {"skipped", load.skipped}};
  if (config.compressor) {
    j[kCompressorEntry] = *config.compressor;
    j["compressor_tensors"] = load.compressor_tensors;
  }
  return j;
}

}  // namespace laco
