#include "evals/stage0.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <torch/torch.h>

#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/progress.h"
#include "harness/base/safetensors.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

// The 64-bit FNV-1a of text. Only for the `stage0_key` identity that every
// stored accuracy run's key contains (changing it would orphan them); the
// cache file and its check use SHA-256.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

nlohmann::json model_json(const MllmOptions& m) {
  const auto& e = m.encoder;
  const auto& l = m.lm;
  return {{"encoder", {e.image_size(), e.patch_size(), e.width(), e.depth(), e.heads(), e.mlp_dim()}},
          {"lm", {l.vocab(), l.width(), l.layers(), l.heads(), l.kv_heads(), l.mlp_dim()}}};
}

// Everything stage 0 depends on; its hash names the cache file.
nlohmann::json stage0_key(const std::string& preset, int64_t steps0, const std::string& train_data, uint64_t seed) {
  const auto& p = find_accuracy_preset(preset);
  const VqaVocabulary& vocab = train_vocabulary(train_data);
  // The train data's digest is FNV-1a as it always was: it is part of the stage0_key identity above.
  const std::string digest =
      generated_data(train_data) ? std::string() : fmt::format("{:016x}", fnv1a(read_file_bytes(train_data, InputLimit::kDataBytes)));
  // version: bumped whenever the generator or the training loop changes what stage 0 learns.
  nlohmann::json key = {{"version", 2},
                        {"preset", p.name},
                        {"model", model_json(accuracy_model(p, vocab))},
                        {"data", {p.data.image_size, p.data.glyph_scale, p.train_size, p.question_tokens}},
                        {"train_data", digest},
                        {"steps0", steps0},
                        {"lr0", p.lr0},
                        {"batch", p.batch},
                        {"curriculum", p.curriculum},
                        {"seed", seed}};
  // User data brings its own vocabulary. SynthVQA's is fixed, and its keys
  // stay as they were: they are every stored run's stage0_key identity.
  if (!generated_data(train_data)) key["vocabulary"] = {{"size", vocab.size()}, {"sha256", vocab.sha256()}};
  const auto mix = stage0_mix(p, train_data);
  if (!mix.empty()) key["mix"] = mix;  // absent: one in five each, as before
  return key;
}

nlohmann::json stage0_key(const RunSpec& run) {
  return stage0_key(run.preset, run.accuracy().steps0, run.accuracy().train_data, accuracy_data_seed(run));
}

// What the cache file must have been trained with to be reused: the
// configuration (stage0_key, which also names the file) and the code, i.e.
// the sources that determine the weights and the LibTorch version (numerics).
nlohmann::json stage0_cache_key(const RunSpec& run) {
  nlohmann::json key = stage0_key(run);
  key["code"] = {{"sources_sha256", stage0_sources_sha256()}, {"torch", TORCH_VERSION}};
  return key;
}

// Why a cache file's stored key is not `wanted` ("" when it is).
std::string stage0_mismatch(const std::string& stored, const nlohmann::json& wanted) {
  if (stored == wanted.dump()) return "";
  nlohmann::json old;
  if (!parse_json(stored, old).empty() || !old.is_object()) return "its stored key is not JSON";
  if (!old.contains("code"))
    return "it was written before the code was part of the stage-0 cache key (its code is unknown)";
  std::vector<std::string> parts;
  for (const auto& [field, value] : wanted["code"].items())
    if (old["code"].value(field, nlohmann::json()) != value)
      parts.push_back(fmt::format("{} {} (this build: {})", field, old["code"].value(field, nlohmann::json()).dump(),
                                  value.dump()));
  for (const auto& [field, value] : wanted.items())
    if (field != "code" && old.value(field, nlohmann::json()) != value)
      parts.push_back(fmt::format("{} {} (this run: {})", field, old.value(field, nlohmann::json()).dump(), value.dump()));
  return parts.empty() ? "its stored key differs" : "it was trained by other code or settings: " + join(parts, "; ");
}

// Why a loaded cache file cannot be reused for `run` ("" when it can).
std::string stage0_file_problem(const SafeTensors& file, const RunSpec& run) {
  auto it = file.metadata().find("stage0_key");
  if (it == file.metadata().end()) return "it has no stage0_key metadata";
  return stage0_mismatch(it->second, stage0_cache_key(run));
}

// The cache file at `path`, or none with the reason in `problem` when it
// cannot be read (truncated by a full disk or a kill, not a safetensors file):
// such a file is trained again and replaced, never a failed run.
std::optional<SafeTensors> load_stage0_file(const std::string& path, std::string& problem) {
  if (!fs::exists(path)) {
    problem = "absent";
    return std::nullopt;
  }
  try {
    return SafeTensors::load(path);
  } catch (const Error& e) {
    problem = fmt::format("it cannot be read ({})", e.what());
    return std::nullopt;
  }
}

}  // namespace

uint64_t accuracy_data_seed(const RunSpec& run) {
  const int64_t shared = run.accuracy().stage0_seed;
  return shared >= 0 ? static_cast<uint64_t>(shared) : run.seed;
}

std::string stage0_identity(const RunSpec& run) { return fmt::format("{:016x}", fnv1a(stage0_key(run).dump())); }

std::string stage0_cache_path(const RunSpec& run, const std::string& cache_dir) {
  return (fs::path(cache_dir) / fmt::format("stage0-{}-{}.safetensors", run.preset,
                                            sha256_hex(stage0_key(run).dump()).substr(0, 16)))
      .string();
}

std::string stage0_cache_problem(const RunSpec& run, const std::string& cache_dir) {
  std::string problem;
  const auto file = load_stage0_file(stage0_cache_path(run, cache_dir), problem);
  return file ? stage0_file_problem(*file, run) : problem;
}

double pretrain_stage0(Mllm& model, const RunSpec& run, const AccuracyPreset& preset, const VqaBatches& train,
                       const RunContext& context, RunRecord& rec) {
  const AccuracySettings& a = run.accuracy();
  Progress* progress = context.progress;
  const VqaVocabulary& vocab = train.vocabulary();
  const uint64_t data_seed = accuracy_data_seed(run);
  const int64_t steps0 = a.steps0;
  double stage0_seconds = 0;
  // Stage 0: the uncompressed MLLM, trained once per configuration and cached.
  const std::string cache = stage0_cache_path(run, context.cache_dir);
  const std::string key = stage0_cache_key(run).dump();
  bool cached = false;
  // Held until stage 0 is cached: a second process (a second sweep worker on
  // the same database and cache) that needs the same stage 0 waits and reuses
  // it instead of training it again beside the first.
  const MadeDirectories cache_folder(context.cache_dir);
  std::optional<FileLock> lock;
  lock.emplace(cache + ".lock", [&] {
    if (progress)
      progress->print(fmt::format("waiting for stage 0 {}: another process is loading or training it", cache));
  });
  // Read once: its key decides whether its weights are used.
  std::string problem;
  std::optional<SafeTensors> file = load_stage0_file(cache, problem);
  if (file) problem = stage0_file_problem(*file, run);
  if (!problem.empty()) file.reset();  // stale weights are not kept while stage 0 trains
  if (problem.empty()) {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) p.value().copy_(file->get(p.key()));
    cached = true;
    // Its curves were saved with it (files written before they were have none).
    auto curves = file->metadata().find("stage0_curves");
    nlohmann::json stored;
    if (curves != file->metadata().end() && parse_json(curves->second, stored).empty() && stored.is_object())
      for (const auto& [name, points] : stored.items())
        for (const auto& point : points)
          if (point.is_array() && point.size() == 2)
            rec.series[name].emplace_back(point[0].get<int64_t>(), point[1].get<double>());
  } else if (problem != "absent") {
    // A file of this configuration that this build must not reuse: trained again, and replaced.
    const std::string why = fmt::format("stage 0 {} is not reused: {}; training it again", cache, problem);
    if (progress) progress->print(why);
    rec.facts["stage0_retrained"] = why;
  }
  if (!cached && context.lost_inputs && context.lost_inputs->count(cache))
    fail("stage 0 {} was trained earlier in this process but could not be cached ({}); not trained again (allowed: "
         "free space in {} and rerun with --retry-failed)",
         cache, context.lost_inputs->at(cache), context.cache_dir);
  if (!cached) {
    if (progress) progress->note("stage 0");
    // Scored on SynthVQA's validation split a few times, to show which
    // families learn and how fast. Not for user train data: it has no
    // validation split, and SynthVQA's questions are not in its vocabulary.
    const VqaBatches val(preset, data_seed, "val", generated_data(a.train_data) ? preset.val_size : 0, vocab);
    const int64_t every = std::max<int64_t>(preset.log_every, steps0 / std::max<int64_t>(1, preset.val_points));
    double scoring_seconds = 0;
    auto score = [&](int64_t step) {
      if (val.size() == 0 || (step % every != 0 && step != steps0)) return;
      const auto t = std::chrono::steady_clock::now();
      for (const auto& [family, value] : evaluate_vqa(model, val, 2 * a.batch))
        rec.series["val_acc_stage0_" + family].emplace_back(step, value);
      scoring_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    };
    const auto log = train_stage0(model, run, preset, train, data_seed, progress, score);
    stage0_seconds = log.seconds - scoring_seconds;
    rec.add("stage0_final_loss", log.final_loss, "nats");
    for (const auto& [s, v] : log.loss) rec.series["loss_stage0"].emplace_back(s, v);
    NamedTensors tensors;
    for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value());
    // The curves go with the weights: a run that commits later, or a sweep
    // killed before it did, finds them in the cache and stores them again.
    nlohmann::json curves = nlohmann::json::object();
    for (const auto& [name, points] : rec.series)
      if (name.rfind("loss_stage0", 0) == 0 || name.rfind("val_acc_stage0_", 0) == 0)
        for (const auto& [step, value] : points) curves[name].push_back({step, value});
    try {
      save_safetensors(cache, tensors,
                       {{"stage0_key", key}, {"vocabulary", vocab.to_json().dump()}, {"stage0_curves", curves.dump()}});
    } catch (const Error& e) {
      if (context.lost_inputs) (*context.lost_inputs)[cache] = e.what();
      throw;
    }
  }
  lock.reset();
  rec.facts["stage0_cached"] = cached;
  rec.facts["stage0_cache"] = cache;
  if (cached && progress) progress->advance(steps0, "stage 0 (cached)");
  return stage0_seconds;
}

}  // namespace laco
