#include "evals/efficiency.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <unistd.h>

#include <torch/torch.h>

#include "evals/decode.h"
#include "evals/flops.h"
#include "evals/metrics.h"
#include "evals/measure.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/json_check.h"
#include "harness/base/memory.h"
#include "harness/base/rank_tests.h"
#include "harness/base/progress.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/presets.h"
#include "methods/registry.h"

namespace laco {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

const std::vector<std::pair<EfficiencyStage, std::string>>& stage_table() {
  static const std::vector<std::pair<EfficiencyStage, std::string>> table = {
      {EfficiencyStage::kEncoder, "encoder"}, {EfficiencyStage::kPrefill, "prefill"},
      {EfficiencyStage::kThroughput, "throughput"}, {EfficiencyStage::kTrain, "train"},
      {EfficiencyStage::kMemory, "memory"}, {EfficiencyStage::kPeak, "peak"}, {EfficiencyStage::kDecode, "decode"},
  };
  return table;
}

std::set<EfficiencyStage> parse_stages(const std::vector<std::string>& names) {
  std::set<EfficiencyStage> out;
  if (names.empty()) {
    for (const auto& s : stage_table()) out.insert(s.first);
    return out;
  }
  for (const auto& name : names) {
    auto it = std::find_if(stage_table().begin(), stage_table().end(), [&](const auto& s) { return s.second == name; });
    if (it == stage_table().end())
      fail("--stages: unknown stage '{}' (allowed: {})", name, join(efficiency_stage_names()));
    out.insert(it->first);
  }
  return out;
}

int64_t pick(int64_t override_value, int64_t preset_value) {
  return override_value == EfficiencyConfig::kUnset ? preset_value : override_value;
}

}  // namespace

const std::string& stage_name(EfficiencyStage stage) {
  for (const auto& s : stage_table())
    if (s.first == stage) return s.second;
  fail("unknown efficiency stage");
}

std::vector<std::string> efficiency_stage_names() {
  std::vector<std::string> names;
  for (const auto& s : stage_table()) names.push_back(s.second);
  return names;
}

std::vector<int64_t> resolve_gen_tokens(std::vector<int64_t> given, const std::vector<int64_t>& preset) {
  if (given.empty()) given = preset;
  for (int64_t n : given)
    if (n < 2 || n > kMaxGenTokens)
      fail("--gen-tokens: {} is out of range (allowed: 2..{}; the first token ends the prefill)", n, kMaxGenTokens);
  std::sort(given.begin(), given.end());
  given.erase(std::unique(given.begin(), given.end()), given.end());
  return given;
}

RunSpec resolve_efficiency_config(const EfficiencyConfig& c) {
  const Preset& preset = find_preset(c.preset, "--preset");
  find_method(c.method);
  if (c.device != "cpu")
    fail("--device: '{}' is not available in this build (allowed: cpu; this build has no GPU path)", c.device);
  auto check_override = [](int64_t v, const char* field, int64_t min) {
    if (v != EfficiencyConfig::kUnset && v < min) fail("{}: must be >= {}, got {}", field, min, v);
  };
  check_override(c.crops, "--crops (images per request: base + crops)", 1);
  check_override(c.text_tokens, "--text-tokens (the loss predicts the next text token)", 2);
  check_override(c.batch, "--batch", 1);
  check_override(c.train_batch, "--train-batch", 1);
  check_override(c.reps, "--reps", 1);
  check_override(c.warmup, "--warmup", 0);
  if (c.threads < 1) fail("--threads: must be >= 1, got {}", c.threads);
  const std::vector<int64_t> gen_tokens = resolve_gen_tokens(c.gen_tokens, preset.gen_tokens);
  if (c.memory_budget_gib != EfficiencyConfig::kUnset && !(c.memory_budget_gib > 0))
    fail("--memory-budget-gib: must be > 0, got {}", c.memory_budget_gib);

  RunSpec spec = resolve_method_placement(c, run_model(c.model, preset.model));
  EfficiencySettings e;
  e.external = spec.external();
  e.crops = pick(c.crops, preset.crops);
  e.text_tokens = pick(c.text_tokens, preset.text_tokens);
  e.batch = pick(c.batch, preset.batch);
  e.train_batch = pick(c.train_batch, preset.train_batch);
  e.warmup = pick(c.warmup, preset.warmup);
  e.reps = pick(c.reps, preset.reps);
  e.device = c.device;
  e.dtype = "float32";
  const auto stages = parse_stages(c.stages);
  for (auto stage : stages) e.stages.push_back(stage_name(stage));
  if (stages.count(EfficiencyStage::kDecode)) {
    e.gen_tokens = gen_tokens;
    e.memory_budget_gib = c.memory_budget_gib == EfficiencyConfig::kUnset ? preset.memory_budget_gib : c.memory_budget_gib;
  }
  spec.settings = e;
  return spec;
}

EfficiencyConfig efficiency_config(const RunRequest& request, const nlohmann::json& settings) {
  auto c = request_as<EfficiencyConfig>(request);
  take_setting(settings, "crops", c.crops);
  take_setting(settings, "text_tokens", c.text_tokens);
  take_setting(settings, "batch", c.batch);
  take_setting(settings, "train_batch", c.train_batch);
  take_setting(settings, "warmup", c.warmup);
  take_setting(settings, "reps", c.reps);
  take_setting(settings, "stages", c.stages);
  take_setting(settings, "device", c.device);
  take_setting(settings, "gen_tokens", c.gen_tokens);
  take_setting(settings, "memory_budget_gib", c.memory_budget_gib);
  return c;
}

const std::vector<SettingInfo>& efficiency_settings() {
  // Upper bounds far beyond any CPU run (kMaxCrops images and kMaxTextTokens
  // per request, 2^24 requests per batch, a million repetitions) that keep
  // every product of them (batch x tokens x width, FLOP counts) inside 64
  // bits. A batch that does not fit in memory is a failed run, not an input error.
  using K = SettingKind;
  static const std::vector<SettingInfo> settings = {
      {"crops", K::kInteger, 1, kMaxCrops, 0, 0, {}, "Images per request, base + crops"},
      {"text_tokens", K::kInteger, 2, kMaxTextTokens, 0, 0, {}, "Text tokens per request"},
      {"batch", K::kInteger, 1, 1 << 24, 0, 0, {}, "Requests per forward for throughput"},
      {"train_batch", K::kInteger, 1, 1 << 24, 0, 0, {}, "Requests per training step"},
      {"warmup", K::kInteger, 0, 1000000, 0, 0, {}, "Untimed runs before each measurement"},
      {"reps", K::kInteger, 1, 1000000, 0, 0, {}, "Timed runs per measurement"},
      {"stages", K::kNames, 0, 0, 0, 0, efficiency_stage_names(),
       "Comma-separated subset of " + join(efficiency_stage_names(), ",")},
      {"device", K::kString, 0, 0, 0, 0, {"cpu"}, "Device: cpu"},
      {"gen_tokens", K::kIntegers, 2, kMaxGenTokens, 0, 0, {},
       "decode: generated tokens per request, comma-separated (e.g. 16,256)"},
      {"memory_budget_gib", K::kNumber, 0, 0, 1.0 / 1024, 1 << 20, {},
       "decode: the memory (GiB) the largest batch must fit in"},
  };
  return settings;
}

int64_t efficiency_units(const std::vector<RunSpec>& runs) {
  int64_t units = 0;
  for (const auto& r : runs)
    for (auto s : parse_stages(r.efficiency().stages))
      units += s == EfficiencyStage::kPrefill  ? 3
               : s == EfficiencyStage::kMemory ? 2
               : s == EfficiencyStage::kTrain  ? static_cast<int64_t>(train_regimes().size())
               : s == EfficiencyStage::kDecode ? 2  // batch 1, --batch
                                               : 1;
  return units;
}

std::string efficiency_group(const RunSpec& run) {
  nlohmann::json c = to_json(run);
  for (const char* k : {"method", "method_options", "init", "projector", "ratio", "grid_policy", "layer", "block_k",
                        "external", "grid_out",
                        "reps"})  // a claimed comparison's runs take more rounds than the rest of their group
    c.erase(k);
  return sha256_hex("efficiency-group\n" + c.dump()).substr(0, 16);
}

void check_group_fits(size_t sessions, int64_t session_bytes, int64_t model_bytes, const RunSpec& first, bool trains,
                      int64_t available) {
  if (available <= 0) return;  // not Linux: nothing to go by
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double need = static_cast<double>(sessions) * static_cast<double>(session_bytes) +
                      (trains ? 4.0 * static_cast<double>(model_bytes) : 0.0);
  if (need > 0.9 * static_cast<double>(available))
    fail("efficiency: the {} configurations measured together (preset {}, seed {}) need about {:.1f} GiB resident "
         "({} x {:.0f} MiB of weights and inputs{}) but {:.1f} GiB is available; every efficiency run of one preset, "
         "seed and set of settings is measured in one interleaved group, so split the sweep's efficiency grids "
         "into several sweeps (each compares only within itself) or free memory",
         sessions, first.preset, first.seed, need / gib, sessions, static_cast<double>(session_bytes) / kMiB,
         trains ? fmt::format(", plus one training state of {:.0f} MiB", 4.0 * static_cast<double>(model_bytes) / kMiB)
                : std::string(),
         static_cast<double>(available) / gib);
}

std::vector<size_t> round_order(size_t n, int64_t round, int64_t rounds) {
  const size_t offset = rounds > 0 ? static_cast<size_t>(round) * n / static_cast<size_t>(rounds) : 0;
  std::vector<size_t> order;
  for (size_t j = 0; j < n; ++j) order.push_back((offset + j) % n);
  return order;
}

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
double gflops_rate(double flop, double ms) { return flop / (ms * 1e-3) / 1e9; }

// One configuration's model, inputs and record while it is measured.
struct Session {
  std::set<EfficiencyStage> stages;
  int64_t k = 0, crops = 0, text = 0, batch = 0, train_batch = 0, warmup = 0, reps = 0;
  std::vector<int64_t> gen_tokens;  ///< decode: ascending
  double memory_budget_gib = 0;
  LmOptions lm;
  int64_t prompt = 0;  ///< LM positions of a request: visual + text tokens
  LmPrune prune;       ///< a method inside the LM (FastV): its layers after K hold fewer
  /// The last timed generation's tensor-peak rise and KV cache, at batch 1 ([0]) and --batch ([1]).
  int64_t generation_rise[2] = {0, 0}, generation_cache[2] = {0, 0};
  Mllm model{nullptr};
  Compressor compressor;
  FlopBreakdown flops;
  torch::Tensor images1, ids1, images_b, ids_b, images_t, ids_t, visual1, embeddings1;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  int64_t model_bytes = 0;        ///< weights
  int64_t train_state_bytes = 0;  ///< weights + gradients + AdamW state
  RunRecord record;

  bool has(EfficiencyStage s) const { return stages.count(s) != 0; }

  /// Greedy generation of n tokens for one request (batched: --batch of them), for inference.
  Generation generate(bool batched, int64_t n, const std::function<void(int64_t)>& on_token = {}) {
    model->eval();
    torch::NoGradGuard no_grad;
    return model->generate(batched ? images_b : images1, batched ? ids_b : ids1, n, on_token);
  }

  void add_timing(const std::string& name, const TimingStats& t) {
    record.add(name, t.median_ms, "ms");
    record.samples[name] = t.samples_ms;  // in the order measured
    record.add(name + "_min", t.min_ms, "ms");
    record.add(name + "_max", t.max_ms, "ms");
  }

  void forward_backward() {
    optimizer->zero_grad();
    model->loss(images_t, ids_t).backward();
  }
  void train_step() {
    forward_backward();
    optimizer->step();
  }

  /// Gradients and AdamW moments of the parameters `regime` trains (three
  /// more copies of them), built by `steps` (>= 1) untimed training steps,
  /// the first of which allocates them; the others are frozen
  /// (requires_grad false), so autograd computes no gradient for them and
  /// nothing before the first trainable module runs a backward. Only one
  /// session holds training state at a time (see run_efficiency).
  void open_training(int64_t steps, TrainRegime regime = TrainRegime::kFull) {
    model->train();
    const auto trainable = set_trainable(regime);
    optimizer = std::make_unique<torch::optim::AdamW>(trainable, torch::optim::AdamWOptions(1e-5));
    const int64_t pre = tensor_bytes();
    train_step();
    if (regime == TrainRegime::kFull) train_state_bytes = model_bytes + tensor_bytes() - pre;
    for (int64_t i = 1; i < steps; ++i) train_step();
  }
  void close_training() {
    optimizer.reset();
    for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
    set_trainable(TrainRegime::kFull);
  }
  /// The parameters `regime` trains (the FLOP model's TrainRegime): all for
  /// kFull; beyond it not the encoder's own blocks (its compressor trains),
  /// and for kFrozenEncoderLm not the LM either.
  std::vector<torch::Tensor> trained_parameters(TrainRegime regime) const {
    std::set<const void*> frozen;
    auto freeze = [&](const torch::nn::Module& m) {
      for (const auto& p : m.parameters()) frozen.insert(p.unsafeGetTensorImpl());
    };
    if (regime != TrainRegime::kFull) {
      freeze(*model->encoder);
      if (compressor)
        for (const auto& p : compressor->parameters()) frozen.erase(p.unsafeGetTensorImpl());
    }
    if (regime == TrainRegime::kFrozenEncoderLm) freeze(*model->lm);
    std::vector<torch::Tensor> trained;
    for (const auto& p : model->parameters())
      if (!frozen.count(p.unsafeGetTensorImpl())) trained.push_back(p);
    return trained;
  }
  /// requires_grad true exactly for trained_parameters(regime); returns them.
  std::vector<torch::Tensor> set_trainable(TrainRegime regime) {
    for (auto& p : model->parameters()) p.requires_grad_(false);
    auto trained = trained_parameters(regime);
    for (auto& p : trained) p.requires_grad_(true);
    return trained;
  }
};

std::unique_ptr<Session> open_session(const RunSpec& run) {
  auto s = std::make_unique<Session>();
  const EfficiencySettings& e = run.efficiency();
  s->stages = parse_stages(e.stages);
  s->k = run.block_k;
  s->crops = e.crops;
  s->text = e.text_tokens;
  s->batch = e.batch;
  s->train_batch = e.train_batch;
  s->warmup = e.warmup;
  s->reps = e.reps;
  s->gen_tokens = e.gen_tokens;
  s->memory_budget_gib = e.memory_budget_gib;
  s->record.spec = run;
  s->record.provenance = Provenance::here(e.device);

  torch::manual_seed(run.seed);
  const MllmOptions model = run_model(run.checkpoint, find_preset(run.preset).model);
  const int64_t before = tensor_bytes();
  s->model = Mllm(model);
  s->compressor = insert_method(s->model, run);
  // Released weights, where the run names a checkpoint: the method keeps its
  // own initialisation; the timings are those of the real architecture.
  if (!run.checkpoint.empty()) s->record.facts["checkpoint_load"] = load_run_checkpoint(*s->model, run);
  s->model_bytes = tensor_bytes() - before;

  const auto& enc = model.encoder;
  auto images = [&](int64_t b) { return torch::randn({b, s->crops, enc.channels(), enc.image_size(), enc.image_size()}); };
  auto ids = [&](int64_t b) { return torch::randint(model.lm.vocab(), {b, s->text}, torch::kLong); };
  s->images1 = images(1);
  s->ids1 = ids(1);
  s->images_b = images(s->batch);
  s->ids_b = ids(s->batch);
  s->images_t = images(s->train_batch);
  s->ids_t = ids(s->train_batch);
  {
    torch::NoGradGuard no_grad;
    s->visual1 = s->model->encode(s->images1);
    s->embeddings1 = s->model->project(s->visual1);
  }

  s->flops = count_flops(model, s->compressor.get(), s->k, s->crops, s->text, run.method_is_projector());
  int64_t params = 0, compressor_params = 0;
  for (const auto& p : s->model->parameters()) params += p.numel();
  for (const auto& p : s->compressor->parameters()) compressor_params += p.numel();
  auto& r = s->record;
  const auto& f = s->flops;
  const int64_t visual = s->model->visual_tokens(s->crops);
  r.add("visual_tokens", static_cast<double>(visual), "tokens");
  r.add("lm_tokens", static_cast<double>(visual + s->text), "tokens");
  r.add("params", static_cast<double>(params) / 1e6, "M");
  r.add("params_compressor", static_cast<double>(compressor_params) / 1e6, "M");
  r.add("flops_encoder_pre", (f.patch_embed + f.encoder_pre.total()) / 1e9, "GFLOP");
  r.add("flops_compressor", f.compressor / 1e9, "GFLOP");
  r.add("flops_encoder_post", f.encoder_post.total() / 1e9, "GFLOP");
  r.add("flops_encoder", f.encoder() / 1e9, "GFLOP");
  r.add("flops_projector", f.projector / 1e9, "GFLOP");
  r.add("flops_lm_prefill", (f.lm.total() + f.lm_head_prefill) / 1e9, "GFLOP");
  r.add("flops_prefill", f.prefill() / 1e9, "GFLOP");
  r.add("flops_train_step", f.train_step() * static_cast<double>(s->train_batch) / 1e9, "GFLOP");
  // The FLOP model's training step with the encoder (and the LM) frozen, beside the measured train_step_time_*.
  for (const auto& regime : train_regimes())
    if (regime.value != TrainRegime::kFull)
      r.add("flops_train_step" + train_regime_suffix(regime.value),
            f.train_step(regime.value) * static_cast<double>(s->train_batch) / 1e9, "GFLOP");
  s->lm = model.lm;
  s->prompt = s->model->visual_input_tokens(s->crops) + s->text;
  s->prune = s->model->lm_prune(s->model->visual_input_tokens(s->crops));
  // The decode model (evals/decode.h) beside what the decode stage measures: per request at batch 1.
  for (int64_t n : s->gen_tokens) {
    const DecodeStep steps = decode_steps(model.lm, s->prompt, n, 1, 4, s->prune);
    r.add(fmt::format("kv_cache_{}", n), kv_cache_bytes(model.lm, s->prompt + n - 1, 4, s->prune) / kMiB, "MiB");
    r.add(fmt::format("flops_decode_{}", n), steps.flops / 1e9, "GFLOP");
    r.add(fmt::format("bytes_decode_step_{}", n), steps.bytes() / static_cast<double>(n - 1) / 1e6, "MB");
  }
  r.facts["lm_causal_attention_counted"] = name_of(causal_counts(), f.causal);
  r.facts["encoder_inference_kernels"] = encoder_inference_kernels(model.encoder);

  return s;
}

// A timed measurement: one sample returns the total and optionally its parts (ms).
struct Probe {
  EfficiencyStage stage;
  std::string label;
  std::vector<std::string> metrics;  ///< one per returned part, the first is the total
  std::function<std::vector<double>(Session&)> sample;
  std::function<void(Session&, const TimingStats&)> derive;
  TrainRegime regime = TrainRegime::kFull;  ///< which parameters a training probe trains
  /// A warm-up run when it differs from a sample (generation: the shortest count).
  std::function<void(Session&)> warm_up = {};
};

std::vector<double> timed(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return {ms_between(t0, Clock::now())};
}

// Greedy generation of the largest token count, stamping every token: one
// sample gives, for each count n, the request's latency to its n-th token
// and the time per output token after the first, (latency - TTFT) / (n - 1),
// then the TTFT. A shorter request is the start of the longest: the same
// work, so one generation measures every count. It also keeps the rise of
// the tensor peak and the KV cache (for measure_decode_memory; the counter
// costs nothing measurable, and its reset does not touch the heap).
std::vector<double> generation_sample(Session& s, bool batched) {
  const int64_t longest = s.gen_tokens.back();
  std::vector<Clock::time_point> at;
  at.reserve(static_cast<size_t>(longest));
  reset_tensor_peak();
  const int64_t base = tensor_bytes();
  const auto t0 = Clock::now();
  const Generation g = s.generate(batched, longest, [&](int64_t) { at.push_back(Clock::now()); });
  s.generation_rise[batched] = peak_tensor_bytes() - base;
  s.generation_cache[batched] = g.cache_bytes;
  const double ttft = ms_between(t0, at.front());
  std::vector<double> parts;
  for (int64_t n : s.gen_tokens) {
    const double latency = ms_between(t0, at[static_cast<size_t>(n - 1)]);
    parts.push_back(latency);
    parts.push_back((latency - ttft) / static_cast<double>(n - 1));
  }
  parts.push_back(ttft);
  return parts;
}

std::vector<std::string> generation_metrics(const std::vector<int64_t>& gen_tokens, const std::string& suffix) {
  std::vector<std::string> names;
  for (int64_t n : gen_tokens) {
    names.push_back(fmt::format("decode_latency_{}{}", n, suffix));
    names.push_back(fmt::format("decode_tpot_{}{}", n, suffix));
  }
  names.push_back("decode_ttft" + suffix);
  return names;
}

void measure_decode_memory(Session& s);

std::vector<Probe> probes(const Session& first) {
  auto inference = [](const std::function<void(Session&)>& fn) {
    return [fn](Session& s) {
      s.model->eval();
      torch::NoGradGuard no_grad;
      return timed([&] { fn(s); });
    };
  };
  std::vector<Probe> out = {
      {EfficiencyStage::kEncoder, "encoder latency", {"encoder_latency"},
       inference([](Session& s) { s.model->encode(s.images1); }),
       [](Session& s, const TimingStats& t) {
         s.record.add("encoder_gflops", gflops_rate(s.flops.encoder(), t.median_ms), "GFLOP/s");
       }},
      {EfficiencyStage::kPrefill, "projector latency", {"projector_latency"},
       inference([](Session& s) { s.model->project(s.visual1); }), {}},
      {EfficiencyStage::kPrefill, "LM prefill latency", {"lm_prefill_latency"},
       inference([](Session& s) {
         auto h = s.model->lm_hidden(s.embeddings1, s.ids1);
         s.model->lm->logits(h.select(1, h.size(1) - 1));
       }),
       [](Session& s, const TimingStats& t) {
         s.record.add("lm_prefill_gflops", gflops_rate(s.flops.lm.total() + s.flops.lm_head_prefill, t.median_ms), "GFLOP/s");
       }},
      {EfficiencyStage::kPrefill, "prefill latency", {"prefill_latency"},
       inference([](Session& s) { s.model->prefill(s.images1, s.ids1); }),
       [](Session& s, const TimingStats& t) {
         s.record.add("prefill_gflops", gflops_rate(s.flops.prefill(), t.median_ms), "GFLOP/s");
       }},
      {EfficiencyStage::kThroughput, "throughput", {"throughput_batch_latency"},
       inference([](Session& s) { s.model->prefill(s.images_b, s.ids_b); }),
       [](Session& s, const TimingStats& t) {
         const double b = static_cast<double>(s.batch);
         // Per repetition, so that the stored samples are the metric's own (its median).
         std::vector<double> rates;
         for (double ms : t.samples_ms) rates.push_back(b / (ms * 1e-3));
         s.record.samples["throughput"] = rates;
         s.record.add("throughput", median(rates), "requests/s");
         s.record.add("throughput_gflops", gflops_rate(s.flops.prefill() * b, t.median_ms), "GFLOP/s");
       }},
  };
  if (first.has(EfficiencyStage::kDecode)) {
    // Warm-up: the shortest count runs every kernel a sample runs (prefill, decode steps).
    auto warm_up = [](bool batched) { return [batched](Session& s) { s.generate(batched, s.gen_tokens.front()); }; };
    out.push_back({EfficiencyStage::kDecode, "generation", generation_metrics(first.gen_tokens, ""),
                   [](Session& s) { return generation_sample(s, false); }, {}, TrainRegime::kFull, warm_up(false)});
    out.push_back({EfficiencyStage::kDecode, "generation (batch)", generation_metrics(first.gen_tokens, "_batch"),
                   [](Session& s) { return generation_sample(s, true); },
                   [](Session& s, const TimingStats&) {
                     measure_decode_memory(s);
                     // Generated tokens per second of the batch, prefill included (what a server delivers), per repetition.
                     for (int64_t n : s.gen_tokens) {
                       std::vector<double> rates;
                       for (double ms : s.record.samples.at(fmt::format("decode_latency_{}_batch", n)))
                         rates.push_back(static_cast<double>(s.batch * n) / (ms * 1e-3));
                       const std::string name = fmt::format("decode_throughput_{}", n);
                       s.record.samples[name] = rates;
                       s.record.add(name, median(rates), "tokens/s");
                     }
                   },
                   TrainRegime::kFull, warm_up(true)});
  }
  // One training probe per regime (the stages of LLaVA-style training), each
  // with the state its regime builds.
  for (const auto& regime : train_regimes()) {
    const bool full = regime.value == TrainRegime::kFull;
    const std::string suffix = train_regime_suffix(regime.value);
    std::vector<std::string> metrics = {"train_step_time" + suffix, "train_fwd_bwd_time" + suffix,
                                        "optimizer_step_time" + suffix};
    out.push_back(
        {EfficiencyStage::kTrain, full ? "training step" : "training step (" + regime.name + ")", metrics,
         [](Session& s) {
           s.model->train();
           const auto t0 = Clock::now();
           s.forward_backward();
           const auto t1 = Clock::now();
           s.optimizer->step();
           const auto t2 = Clock::now();
           return std::vector<double>{ms_between(t0, t2), ms_between(t0, t1), ms_between(t1, t2)};
         },
         [regime = regime.value, suffix](Session& s, const TimingStats& t) {
           const double flop = s.flops.train_step(regime) * static_cast<double>(s.train_batch);
           s.record.add("train_gflops" + suffix, gflops_rate(flop, t.median_ms), "GFLOP/s");
           int64_t trainable = 0;
           for (const auto& p : s.trained_parameters(regime)) trainable += p.numel();
           s.record.add("params_trainable" + suffix, static_cast<double>(trainable) / 1e6, "M");
         },
         regime.value});
  }
  return out;
}

// Runs `step` once after resetting the peaks and records, under `prefix`, the
// session's resident tensors plus the step's activation peak, that peak alone,
// and the rise of the process's peak RSS.
void record_memory_peak(Session& s, const std::string& prefix, int64_t resident_bytes,
                        const std::function<void()>& step) {
  reset_memory_peaks();
  const int64_t base = tensor_bytes(), rss = rss_bytes();
  step();
  const int64_t activations = peak_tensor_bytes() - base;
  s.record.add(prefix + "_peak_tensor", static_cast<double>(resident_bytes + activations) / kMiB, "MiB");
  s.record.add(prefix + "_activation_peak", static_cast<double>(activations) / kMiB, "MiB");
  s.record.add(prefix + "_rss_increase", static_cast<double>(peak_rss_bytes() - rss) / kMiB, "MiB");
}

// Inference memory: the peak of one batched prefill.
void measure_inference_memory(Session& s) {
  s.model->eval();
  torch::NoGradGuard no_grad;
  s.model->prefill(s.images_b, s.ids_b);  // first-touch allocations out of the way
  record_memory_peak(s, "inference", s.model_bytes, [&] { s.model->prefill(s.images_b, s.ids_b); });
}

// Decode memory and the largest batch under the budget (evals/decode.h),
// from the last timed generations: the rise of the tensor peak at batch 1
// less its KV cache is the activation peak per request; weights + b x
// (inputs + KV cache + activation peak) is then checked against the rise
// measured at --batch.
void measure_decode_memory(Session& s) {
  const int64_t longest = s.gen_tokens.back();
  auto bytes = [](const torch::Tensor& t) { return static_cast<double>(t.nbytes()); };
  const double inputs1 = bytes(s.images1) + bytes(s.ids1), inputs_b = bytes(s.images_b) + bytes(s.ids_b);
  const double weights = static_cast<double>(s.model_bytes);
  const double activations = static_cast<double>(s.generation_rise[0] - s.generation_cache[0]);
  const double b = static_cast<double>(s.batch);
  const double measured = weights + inputs_b + static_cast<double>(s.generation_rise[1]);
  const double modelled =
      weights + b * (inputs1 + kv_cache_bytes(s.lm, s.prompt + longest - 1, 4, s.prune) + activations);
  auto& r = s.record;
  r.add("weights", weights / kMiB, "MiB");
  r.add("kv_cache_measured", static_cast<double>(s.generation_cache[0]) / kMiB, "MiB");
  r.add("decode_activation_peak", activations / kMiB, "MiB");
  r.add("decode_peak_tensor_batch", measured / kMiB, "MiB");
  r.add("decode_peak_tensor_batch_model", modelled / kMiB, "MiB");
  r.add("decode_memory_model_error", measured / modelled - 1.0, "ratio");
  for (int64_t n : s.gen_tokens) {
    const double per_request = inputs1 + kv_cache_bytes(s.lm, s.prompt + n - 1, 4, s.prune) + activations;
    r.add(fmt::format("max_batch_{}", n),
          static_cast<double>(max_batch(s.memory_budget_gib * 1024.0 * kMiB, weights, per_request)), "requests");
  }
}

// Training memory: the peak of one step of a session that holds its training state.
void measure_train_memory(Session& s) {
  s.model->train();
  record_memory_peak(s, "train", s.train_state_bytes, [&] { s.train_step(); });
}

}  // namespace

nlohmann::json round_noise(const std::vector<const RunRecord*>& records) {
  // Per metric: the per-round log ratios of every two runs over the rounds
  // both took part in, each pair's centred on its own mean (its true ratio),
  // pooled: sqrt(sum of squares / degrees of freedom).
  std::map<std::string, std::pair<double, int64_t>> acc;  // metric -> (sum of squares, degrees of freedom)
  for (size_t a = 0; a < records.size(); ++a)
    for (size_t b = a + 1; b < records.size(); ++b)
      for (const auto& [metric, xs] : records[a]->samples) {
        auto it = records[b]->samples.find(metric);
        if (it == records[b]->samples.end()) continue;
        const auto& ys = it->second;
        std::vector<double> d;
        for (size_t i = 0; i < xs.size() && i < ys.size(); ++i)
          if (xs[i] > 0 && ys[i] > 0) d.push_back(std::log(xs[i] / ys[i]));
        if (d.size() < 2) continue;
        double mean = 0;
        for (double v : d) mean += v;
        mean /= static_cast<double>(d.size());
        auto& [ss, df] = acc[metric];
        for (double v : d) ss += (v - mean) * (v - mean);
        df += static_cast<int64_t>(d.size()) - 1;
      }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [metric, sd] : acc)
    if (sd.second > 0) out[metric] = std::sqrt(sd.first / static_cast<double>(sd.second));
  return out;
}

std::vector<RunRecord> run_efficiency(const std::vector<RunSpec>& runs, Progress* progress) {
  if (runs.empty()) return {};
  for (const auto& r : runs)
    if (r.threads != runs[0].threads || r.efficiency().stages != runs[0].efficiency().stages ||
        r.efficiency().warmup != runs[0].efficiency().warmup || r.efficiency().gen_tokens != runs[0].efficiency().gen_tokens)
      fail("efficiency: runs measured together must share --threads, --stages, --warmup and --gen-tokens");
  install_memory_counter();
  set_threads(runs[0].threads);
  const auto wall0 = Clock::now();
  const std::string started = utc_now();

  std::vector<std::unique_ptr<Session>> sessions;
  for (const auto& r : runs) {
    if (progress) progress->note("building " + r.method_label() + " " + r.layer);
    const int64_t before = tensor_bytes();
    sessions.push_back(open_session(r));
    if (sessions.size() == 1) {
      const auto& s = *sessions.front();
      check_group_fits(runs.size(), tensor_bytes() - before, s.model_bytes, r,
                       s.has(EfficiencyStage::kTrain) || s.has(EfficiencyStage::kMemory), available_memory_bytes());
    }
  }
  const auto& stages = sessions[0]->stages;
  const int64_t warmup = sessions[0]->warmup;
  const size_t n = sessions.size();
  // Rounds: as many as the most repetitions any run asks for; a run with
  // fewer (the group's rest, beside its claimed comparisons' runs) takes
  // part in the first ones only, so that repetition i of every run is round i.
  int64_t rounds = 0;
  for (const auto& s : sessions) rounds = std::max(rounds, s->reps);

  // Every probe: warm-up rounds, then timed rounds, each round visiting every
  // session once in a rotated order (round_order), so that the configurations
  // compared in one table share the machine's drift.
  for (const auto& probe : probes(*sessions[0])) {
    if (!stages.count(probe.stage)) continue;
    if (progress) progress->note(probe.label);
    const bool train = probe.stage == EfficiencyStage::kTrain;
    // Training state for all sessions at once would not fit (cpu-small: 36 x
    // 0.5 GiB): in each timed round every session builds it with its
    // warm-up steps (at least one, which allocates it), takes its timed
    // step and frees it again. Inference warms up in rounds of its own.
    // A round of 36 configurations takes minutes: each sample is a heartbeat
    // (a log line at most every 30 s when stderr is not a terminal).
    auto beat = [&](const char* what, int64_t round, int64_t rounds, size_t j) {
      if (progress)
        progress->note(fmt::format("{}: {} {}/{}, configuration {}/{}", probe.label, what, round + 1, rounds, j + 1, n));
    };
    if (!train)
      for (int64_t w = 0; w < warmup; ++w) {
        const auto order = round_order(n, w, warmup);
        for (size_t j = 0; j < n; ++j) {
          beat("warm-up round", w, warmup, j);
          if (probe.warm_up)
            probe.warm_up(*sessions[order[j]]);
          else
            probe.sample(*sessions[order[j]]);
        }
      }
    std::vector<std::vector<std::vector<double>>> parts(n);
    for (int64_t rep = 0; rep < rounds; ++rep) {
      std::vector<size_t> in_round;
      for (size_t i = 0; i < n; ++i)
        if (sessions[i]->reps > rep) in_round.push_back(i);
      const auto order = round_order(in_round.size(), rep, rounds);
      for (size_t j = 0; j < in_round.size(); ++j) {
        const size_t i = in_round[order[j]];
        beat("round", rep, rounds, j);
        Session& s = *sessions[i];
        if (train) s.open_training(std::max<int64_t>(1, warmup), probe.regime);
        const auto sample = probe.sample(s);
        // The training memory peak needs the state this round has built: one more step, after the timed one.
        if (train && probe.regime == TrainRegime::kFull && rep + 1 == s.reps && s.has(EfficiencyStage::kMemory))
          measure_train_memory(s);
        if (train) s.close_training();
        parts[i].resize(sample.size());
        for (size_t p = 0; p < sample.size(); ++p) parts[i][p].push_back(sample[p]);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      for (size_t p = 0; p < probe.metrics.size(); ++p)
        sessions[i]->add_timing(probe.metrics[p], TimingStats::from(parts[i][p]));
      if (probe.derive) probe.derive(*sessions[i], TimingStats::from(parts[i][0]));
      if (progress) progress->step(probe.label);
    }
  }
  if (stages.count(EfficiencyStage::kMemory))
    for (auto& s : sessions) {
      measure_inference_memory(*s);
      if (progress) progress->step("inference memory");
      if (!stages.count(EfficiencyStage::kTrain)) {  // else measured in the training probe's last round
        s->open_training(1);
        measure_train_memory(*s);
        s->close_training();
      }
      if (progress) progress->step("training memory");
    }

  std::optional<double> peak;
  if (stages.count(EfficiencyStage::kPeak)) {
    if (progress) progress->note("matmul peak");
    peak = measure_matmul_gflops();
  }
  std::vector<RunRecord> records;
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  // What identifies this measurement: the runs measured in these rounds share
  // it (the report pairs their repetitions round by round; a re-measurement
  // of some of them gets another).
  static std::atomic<uint64_t> measurements_here{0};  // two measurements within one clock tick differ too
  const std::string measurement =
      sha256_hex(fmt::format("measurement\n{}\n{}\n{}\n{}\n{}\n{}", efficiency_group(runs[0]), started, this_host(),
                             getpid(), std::chrono::system_clock::now().time_since_epoch().count(),
                             measurements_here++))
          .substr(0, 16);
  std::vector<const RunRecord*> measured;
  for (const auto& s : sessions) measured.push_back(&s->record);
  const nlohmann::json noise = round_noise(measured);
  for (auto& s : sessions) {
    auto& r = s->record;
    if (peak) {
      r.add("device_peak_gflops", *peak, "GFLOP/s");
      for (const char* stage : {"encoder", "prefill", "train"})
        if (auto v = r.value(std::string(stage) + "_gflops")) r.add(std::string(stage) + "_efficiency", *v / *peak, "ratio");
      if (progress) progress->step("matmul peak");
    }
    r.facts["measured_with"] = static_cast<int64_t>(sessions.size());
    r.facts["measurement"] = measurement;
    r.facts["rounds"] = rounds;
    if (!noise.empty()) r.facts["round_noise"] = noise;
    r.facts["interleaving"] = "rotated rounds";  // runs stored before it were interleaved in a fixed order
    r.provenance.threads = describe_threads();
    r.provenance.started_at = started;
    r.provenance.finished_at = utc_now();
    r.provenance.wall_seconds = wall;
    records.push_back(std::move(r));
  }
  return records;
}

PrintTable speedups_table(const RunRecord& in, const RunRecord& ext) {
  // Each timing with the metric of the model that predicts it (the metric
  // registry's `model`, evals/metrics.h); a latency to token n has none.
  struct Row {
    std::string label;
    std::string time_metric;  // lower is better
  };
  std::vector<Row> rows = {{"encoder", "encoder_latency"},
                           {"prefill (TTFT)", "prefill_latency"},
                           {"inference throughput", "throughput_batch_latency"},
                           {"training step", "train_step_time"},
                           {"  forward + backward", "train_fwd_bwd_time"}};
  for (const auto& regime : train_regimes())
    if (regime.value != TrainRegime::kFull)
      rows.push_back({"training step, " + train_regime_label(regime.value),
                      "train_step_time" + train_regime_suffix(regime.value)});
  // Generation: a decode step's model is its bytes (evals/decode.h), which
  // are equal at one ratio (the same tokens cached); a latency has no model.
  const auto& gen = in.spec.efficiency().gen_tokens;
  if (!gen.empty()) {
    const int64_t longest = gen.back();
    rows.push_back({fmt::format("time per token, n={}", longest), fmt::format("decode_tpot_{}", longest)});
    for (int64_t n : gen) rows.push_back({fmt::format("latency to token {}", n), fmt::format("decode_latency_{}", n)});
  }
  PrintTable t;
  t.title = fmt::format("{} at {} (k = {}) vs after the encoder (k = {}), r = {}, preset {}:", in.spec.method_label(),
                        in.spec.layer, in.spec.block_k, ext.spec.block_k, in.spec.ratio, in.spec.preset);
  t.columns = {{"stage"},
               {"external", "ms"},
               {"internal", "ms"},
               {"measured speedup", "x", Align::kRight},
               {"FLOP-model speedup", "x", Align::kRight},
               {"measured / predicted", "", Align::kRight}};
  // Measured together (one measurement id): paired on their rounds; else on all repetitions.
  const auto mi = in.facts.find("measurement"), me = ext.facts.find("measurement");
  const bool together = mi != in.facts.end() && me != ext.facts.end() && *mi == *me;
  for (const auto& r : rows) {
    auto ti = in.value(r.time_metric), te = ext.value(r.time_metric);
    if (!ti || !te) continue;
    double measured = *te / *ti;
    std::string interval;
    auto si = in.samples.find(r.time_metric), se = ext.samples.find(r.time_metric);
    if (si != in.samples.end() && se != ext.samples.end() && !si->second.empty() && !se->second.empty()) {
      const RatioEstimate e = together ? paired_ratio(se->second, si->second) : unpaired_ratio(se->second, si->second);
      measured = e.ratio;
      if (e.interval.coverage > 0)
        interval = fmt::format(" [{:.3f}, {:.3f}]{}", e.interval.lo, e.interval.hi,
                               e.interval.coverage < kFullCoverage ? fmt::format("†{:.0f}%", 100 * e.interval.coverage) : "");
    }
    const std::string shown = fmt::format("{:.3f} ({:+.1f}%){}", measured, (measured - 1) * 100, interval);
    const std::string model = metric_info(r.time_metric, "efficiency").model_of(r.time_metric);
    if (model.empty()) {
      t.add({r.label, *te, *ti, shown, std::string("-"), PrintValue()});
      continue;
    }
    const double predicted = ext.require(model) / in.require(model);
    t.add({r.label, *te, *ti, shown, fmt::format("{:.3f} ({:+.1f}%)", predicted, (predicted - 1) * 100),
           measured / predicted});
  }
  t.notes = {together ? "measured speedup: external / internal time, the Hodges-Lehmann estimate over the rounds both "
                        "were measured in [its exact signed-rank interval, 95% unless marked † with the coverage it has]"
                      : "measured speedup: external / internal time, the two-sample Hodges-Lehmann estimate (measured "
                        "apart: not paired) [its exact Mann-Whitney interval, 95% unless marked † with its coverage]",
             "FLOP-model speedup: for a decode step the decode model's bytes per step (the same tokens are cached "
             "at one ratio, so 1.000); a latency to token n has no model (the prefill's FLOPs and the decode "
             "steps' bytes do not add up to one time without a machine's rates)."};
  return t;
}

}  // namespace laco
