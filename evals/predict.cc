#include "evals/predict.h"

#include <cmath>

#include <fmt/format.h>

#include "evals/decode.h"
#include "evals/efficiency.h"
#include "evals/flops.h"
#include "evals/run_spec.h"
#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/model/placement.h"
#include "harness/model/presets.h"
#include "methods/registry.h"

namespace laco {

std::vector<std::string> predict_default_layers() {
  std::vector<std::string> layers;
  for (const auto& p : standard_placements())
    if (p != kAfterEncoder) layers.push_back(p);
  return layers;
}

namespace {

struct NamedLm {
  std::string label;
  LmOptions lm;
};

std::vector<NamedLm> resolve_lms(const PredictRequest& r, const Preset& preset) {
  std::vector<NamedLm> lms;
  if (r.lms.empty()) lms.push_back({preset.name + "'s LM", preset.model.lm});
  for (const auto& name : r.lms) lms.push_back({name, find_lm_shape(name, "--lm").lm});
  std::vector<std::string> changed;
  // `name` is the flag's suffix (--lm-<name>) and the label's word.
  auto apply = [&](const std::optional<int64_t>& v, const char* name, LmOptions& (LmOptions::*set)(const int64_t&)) {
    if (!v) return;
    if (*v < 1 || *v > (int64_t{1} << 24)) fail("--lm-{}: must be in 1..{}, got {}", name, int64_t{1} << 24, *v);
    for (auto& l : lms) (l.lm.*set)(*v);
    changed.push_back(fmt::format("{} {}", name, *v));
  };
  apply(r.lm_width, "width", &LmOptions::width);
  apply(r.lm_layers, "layers", &LmOptions::layers);
  apply(r.lm_heads, "heads", &LmOptions::heads);
  apply(r.lm_kv_heads, "kv-heads", &LmOptions::kv_heads);
  apply(r.lm_mlp_dim, "mlp-dim", &LmOptions::mlp_dim);
  apply(r.lm_vocab, "vocab", &LmOptions::vocab);
  for (auto& l : lms) {
    if (!changed.empty()) l.label += " with " + join(changed);
    try {
      l.lm.validate();
    } catch (const Error& e) {
      fail("--lm {}: {}", l.label, e.what());
    }
  }
  return lms;
}

double ratio_of(double external, double internal) { return internal > 0 ? external / internal : 0; }

struct Common {
  const Preset* preset = nullptr;
  std::vector<NamedLm> lms;
  int64_t crops = 0, text = 0;
  std::vector<std::string> methods;
};

// The checks both tables share: preset, LMs, crops, text tokens, methods, ratios.
Common resolve_common(const PredictRequest& r) {
  Common c;
  c.preset = &find_preset(r.preset, "--preset");
  c.lms = resolve_lms(r, *c.preset);
  c.crops = r.crops.value_or(c.preset->crops);
  c.text = r.text_tokens.value_or(c.preset->text_tokens);
  if (c.crops < 1 || c.crops > kMaxCrops)
    fail("--crops: must be in 1..{} (images per request: base + crops), got {}", kMaxCrops, c.crops);
  if (c.text < 2 || c.text > kMaxTextTokens) fail("--text-tokens: must be in 2..{}, got {}", kMaxTextTokens, c.text);
  c.methods = r.methods;
  if (c.methods.empty())
    for (const auto& m : method_registry())
      if (!m.reference) c.methods.push_back(m.name);
  for (const auto& m : c.methods)
    if (find_method(m).reference) fail("--method: {} compresses nothing, so it has no speed-up to predict", m);
  if (r.ratios.empty()) fail("--ratio: give at least one ratio");
  return c;
}

// A method at a placement in `model`, built as a run builds it (resolve_method_placement's checks).
RunSpec build_at(const Preset& preset, const MllmOptions& model, const std::string& method, int64_t ratio,
                 const std::string& layer, Compressor* c) {
  RunRequest q;
  q.preset = preset.name;
  q.method = method;
  q.layer = layer;
  q.ratio = ratio;
  // Weights do not change FLOPs: the quickest initialisation (no trunc_normal's erfinv, which
  // took TokenPacker's 15 M paper-width weights about 0.9 s per build).
  q.init = "torch_default";
  return resolve_method_placement(q, model, c);
}

CausalCount resolve_causal(const PredictRequest& r) {
  return r.causal.empty() ? causal_count_in_use() : find_named(causal_counts(), r.causal, "causal count", "--causal").value;
}

void check_layers(const PredictRequest& r) {
  if (r.layers.empty()) fail("--layer: give at least one placement (e.g. {}, block:K)", join(predict_default_layers()));
}

// A method at a placement: the run's spec, the FLOP model's count and the visual tokens entering the LM.
struct Placed {
  RunSpec spec;
  FlopBreakdown flops;
  int64_t visual = 0;
};

Placed place(const Preset& preset, const MllmOptions& model, const std::string& method, int64_t ratio,
             const std::string& layer, int64_t crops, int64_t text, CausalCount causal) {
  Placed a;
  Compressor c;
  a.spec = build_at(preset, model, method, ratio, layer, &c);
  a.flops = count_flops(model, c.get(), a.spec.block_k, crops, text, a.spec.method_is_projector(), causal);
  a.visual = crops * c->output_grid(model.encoder.grid()).tokens();
  return a;
}

}  // namespace

TrainRegime train_stage_regime(int64_t stage) {
  if (stage == 1) return TrainRegime::kFrozenEncoderLm;
  if (stage == 2) return TrainRegime::kFrozenEncoder;
  fail("--stage: must be 1 ({}: compressor and projector train) or 2 ({}: compressor, projector and LM train), "
       "got {}",
       name_of(train_regimes(), TrainRegime::kFrozenEncoderLm), name_of(train_regimes(), TrainRegime::kFrozenEncoder),
       stage);
}

double predicted_train_hours(double flops_per_sample, int64_t samples, double device_tflops, double mfu) {
  if (samples < 1) fail("--samples: must be at least 1 (training samples), got {}", samples);
  if (!(device_tflops > 0) || !std::isfinite(device_tflops))
    fail("--device-tflops: must be a finite number > 0 (the device's peak, TFLOP/s), got {}", device_tflops);
  if (!(mfu > 0 && mfu <= 1)) fail("--mfu: must be in (0, 1] (model FLOP utilisation), got {}", mfu);
  return static_cast<double>(samples) * flops_per_sample / (device_tflops * 1e12 * mfu) / 3600.0;
}

PrintTable predict_table(const PredictRequest& r) {
  const Common common = resolve_common(r);
  const Preset& preset = *common.preset;
  const auto& lms = common.lms;
  const auto& methods = common.methods;
  const int64_t crops = common.crops, text = common.text;
  const CausalCount causal = resolve_causal(r);
  check_layers(r);

  PrintTable t;
  t.title = fmt::format(
      "FLOP-model speed-ups against the same method after the encoder, preset {} ({} crops of {} tokens, {} text "
      "tokens; causal LM attention counted {}):",
      preset.name, crops, preset.model.encoder.grid().str(), text, name_of(causal_counts(), causal));
  t.columns = {{"lm"}, {"method"}, {"r"}, {"layer"}, {"block"}, {"visual tokens", "tokens"}, {"prefill", "x"}};
  for (const auto& regime : train_regimes()) t.columns.emplace_back("train " + regime.name, "x");
  for (const auto& l : lms) {
    MllmOptions model = preset.model;
    model.lm = l.lm;
    for (const auto& method : methods)
      for (int64_t ratio : r.ratios) {
        if (find_method(method).site == MethodSite::kInLm) continue;  // no placement in the encoder to compare
        auto at = [&](const std::string& layer) { return place(preset, model, method, ratio, layer, crops, text, causal); };
        const FlopBreakdown ext = at("1").flops;
        for (const auto& layer : r.layers) {
          const Placed a = at(layer);
          const FlopBreakdown& in = a.flops;
          std::vector<PrintValue> row = {l.label, method, ratio, layer,
                                         fmt::format("{}/{}", a.spec.block_k, a.spec.depth), a.visual,
                                         ratio_of(ext.prefill(), in.prefill())};
          for (const auto& regime : train_regimes())
            row.push_back(ratio_of(ext.train_step(regime.value), in.train_step(regime.value)));
          t.add(row);
        }
      }
  }
  t.notes = {
      "x: the FLOP model's work after the encoder divided by its work at this placement (> 1: less work inside).",
      "prefill: encoder, projector and LM up to the first token; throughput: the same work per request, so the "
      "same speed-up.",
      "train full: every parameter trains; frozen_encoder: the encoder is frozen (compressor, projector and LM "
      "train); frozen_encoder_lm: only the compressor and the projector train. Frozen parts after the first "
      "trainable one still carry gradients (forward + input gradient); nothing before it has a backward.",
      "Methods inside the LM (fastv) have no placement in the encoder to compare and are not listed (--decode lists "
      "them).",
      "Predictions from shapes alone (evals/flops.h); what a machine measures differs by its fixed costs and "
      "kernel speeds: `laco run --eval efficiency` measures."};
  return t;
}

PrintTable decode_table(const PredictRequest& r) {
  const Common common = resolve_common(r);
  const Preset& preset = *common.preset;
  const std::vector<int64_t> gen = resolve_gen_tokens(r.gen_tokens, preset.gen_tokens);
  const int64_t batch = r.batch.value_or(preset.batch);
  if (batch < 1 || batch > (int64_t{1} << 24)) fail("--batch: must be in 1..{}, got {}", int64_t{1} << 24, batch);
  const double budget_gib = r.memory_budget_gib.value_or(preset.memory_budget_gib);
  if (!(budget_gib > 0) || budget_gib > (1 << 20)) fail("--memory-budget-gib: must be in (0, {}], got {}", 1 << 20, budget_gib);
  const double budget = budget_gib * 1024.0 * 1024.0 * 1024.0;
  const int64_t longest = gen.back();

  PrintTable t;
  t.title = fmt::format(
      "Decode-model speed-ups against no compression, preset {} ({} crops of {} tokens, {} text tokens, float32; "
      "batch {}; memory budget {:g} GiB):",
      preset.name, common.crops, preset.model.encoder.grid().str(), common.text, batch, budget_gib);
  t.columns = {{"lm"}, {"method"}, {"r"}, {"visual tokens", "tokens"}, {fmt::format("KV cache, n={}", longest), "MiB"}};
  for (int64_t n : gen) {
    t.columns.emplace_back(fmt::format("step b=1, n={}", n), "x");
    t.columns.emplace_back(fmt::format("step b={}, n={}", batch, n), "x");
  }
  t.columns.emplace_back(fmt::format("FLOP/byte b={}", batch), "");
  t.columns.emplace_back(fmt::format("max batch, n={}", longest), "requests");
  t.columns.emplace_back("max batch", "x");
  for (const auto& l : common.lms) {
    MllmOptions model = preset.model;
    model.lm = l.lm;
    struct Row {
      std::string method;
      int64_t ratio = 0, visual = 0, parameters = 0;  ///< visual: entering the LM; parameters: float32, 4 bytes each
      LmPrune prune = {};                             ///< a method inside the LM (fastv)
    };
    auto row_of = [&](const Row& x, const Row& none) {
      const int64_t prompt = x.visual + common.text, base = none.visual + common.text;
      // Bytes read by the n - 1 steps after the prefill (their ratio is that of the mean step): the bound of a
      // bandwidth-bound step.
      auto step_bytes = [&](int64_t p, int64_t n, int64_t b, const LmPrune& prune) {
        return decode_steps(l.lm, p, n, b, 4, prune).bytes();
      };
      std::vector<PrintValue> row = {l.label, x.method, x.ratio ? PrintValue(x.ratio) : PrintValue(std::string("-")),
                                     x.visual - x.prune.dropped(),
                                     kv_cache_bytes(l.lm, prompt + longest - 1, 4, x.prune) / (1024.0 * 1024.0)};
      for (int64_t n : gen)
        for (int64_t b : {int64_t{1}, batch})
          row.push_back(ratio_of(step_bytes(base, n, b, {}), step_bytes(prompt, n, b, x.prune)));
      row.push_back(decode_steps(l.lm, prompt, longest, batch, 4, x.prune).intensity());
      const double weights = 4.0 * static_cast<double>(x.parameters);
      const int64_t most = max_batch(budget, weights, kv_cache_bytes(l.lm, prompt + longest - 1, 4, x.prune));
      const int64_t most_none = max_batch(budget, 4.0 * static_cast<double>(none.parameters),
                                          kv_cache_bytes(l.lm, base + longest - 1));
      row.push_back(most);
      row.push_back(most_none > 0 ? static_cast<double>(most) / static_cast<double>(most_none) : 0.0);
      t.add(row);
    };
    // The MLLM's parameters: encoder, LM, the method's own (none: no method) and mlp2x_gelu unless the method replaced it.
    auto parameters = [&](const CompressorImpl* c, bool method_is_projector) {
      int64_t n = encoder_parameters(model.encoder) + lm_parameters(l.lm);
      if (c)
        for (const auto& p : c->parameters()) n += p.numel();
      if (!method_is_projector) n += projector_parameters(model.encoder.width(), l.lm.width());
      return n;
    };
    const Row none{reference_method().name, 0, common.crops * model.encoder.grid().tokens(), parameters(nullptr, false)};
    row_of(none, none);
    for (const auto& method : common.methods)
      for (int64_t ratio : r.ratios) {
        Compressor c;
        const RunSpec spec = build_at(preset, model, method, ratio, "1", &c);
        const Grid grid = model.encoder.grid();
        row_of({method, ratio, common.crops * c->output_grid(grid).tokens(), parameters(c.get(), spec.method_is_projector()),
                c->site() == MethodSite::kInLm ? c->lm_prune(grid, common.crops) : LmPrune{}},
               none);
      }
  }
  t.notes = {
      "x: no compression's cost divided by the method's (> 1: faster, or more requests). Decode does not depend on "
      "where the method sits: inside the encoder or after it, the LM caches the same tokens (fastv: its first K layers "
      "cache every visual token, the others its budget).",
      "step: the decode model's mean bytes read per generated token after the first (LM weights once per step, each "
      "request's KV cache), float32: the cost of a step that is bandwidth-bound, which it is while its FLOP/byte stays "
      "below the machine's balance (peak FLOP/s over memory bandwidth: tens on a GPU, about 5-20 on CPU cores). At "
      "batch 1 (about 0.5 FLOP/byte) the weights dominate; with the batch, the weights are shared and the KV cache's "
      "share grows (its own intensity stays heads / (2 kv_heads) at any batch).",
      "max batch: floor((budget - weights) / KV cache per request at the last token), weights = encoder + method + "
      "projector + LM: the KV-bound batch of a server that prefills in chunks. Static batching adds an activation peak "
      "per request: `laco run --eval efficiency --stages decode` measures it (max_batch_N).",
      "Predictions from shapes alone (evals/decode.h); `laco run --eval efficiency --stages decode` measures."};
  return t;
}

PrintTable train_hours_table(const PredictRequest& r) {
  const Common common = resolve_common(r);
  const Preset& preset = *common.preset;
  const int64_t crops = common.crops, text = common.text;
  const CausalCount causal = resolve_causal(r);
  check_layers(r);
  const TrainRegime regime = train_stage_regime(r.stage);
  const std::string& regime_name = name_of(train_regimes(), regime);
  auto hours = [&](double flops) { return predicted_train_hours(flops, r.samples, r.device_tflops, r.mfu); };
  hours(0);  // the flags' checks, before any model is built

  PrintTable t;
  t.title = fmt::format(
      "Predicted training time of fine-tune stage {} ({}: {}), preset {}: {} samples, each {} crops of {} tokens + "
      "{} text tokens, on a device of {:g} TFLOP/s peak at {:g} MFU; causal LM attention counted {}:",
      r.stage, regime_name, regime == TrainRegime::kFrozenEncoderLm ? "the compressor and the projector train"
                                                                    : "the compressor, the projector and the LM train",
      preset.name, r.samples, crops, preset.model.encoder.grid().str(), text, r.device_tflops, r.mfu,
      name_of(causal_counts(), causal));
  t.columns = {{"lm"},
               {"method"},
               {"r"},
               {"layer"},
               {"block"},
               {"visual tokens", "tokens"},
               {"train step / sample", "TFLOP"},
               {"predicted time", "h"},
               {"vs none", "x"}};
  for (const auto& l : common.lms) {
    MllmOptions model = preset.model;
    model.lm = l.lm;
    const FlopBreakdown none_flops = count_flops(model, nullptr, 0, crops, text, false, causal);
    const double none_step = none_flops.train_step(regime), none_hours = hours(none_step);
    const std::string dash = "-";
    t.add({l.label, reference_method().name, dash, dash, dash, crops * model.encoder.grid().tokens(),
           none_step / 1e12, none_hours, 1.0});
    for (const auto& method : common.methods)
      for (int64_t ratio : r.ratios) {
        if (find_method(method).site == MethodSite::kInLm) continue;  // as predict_table: no placement in the encoder
        for (const auto& layer : r.layers) {
          const Placed a = place(preset, model, method, ratio, layer, crops, text, causal);
          const double step = a.flops.train_step(regime), h = hours(step);
          t.add({l.label, method, ratio, layer, fmt::format("{}/{}", a.spec.block_k, a.spec.depth), a.visual,
                 step / 1e12, h, ratio_of(none_hours, h)});
        }
      }
  }
  t.notes = {
      fmt::format("predicted time = samples x train step / (peak x MFU) / 3600 = {} x TFLOP / ({:g} x {:g}) / 3600 h; "
                  "one sample per step's share (the step's FLOPs scale with the batch, so the batch does not change "
                  "the total).",
                  r.samples, r.device_tflops, r.mfu),
      fmt::format("train step: the FLOP model's forward + backward of one sample in regime {} (evals/flops.h): "
                  "nothing before the first trainable part has a backward; a frozen part after it costs its forward "
                  "and its input gradient; a trainable part three forwards. Multiply-adds count 2 FLOPs; norms, "
                  "activations and the optimiser step are not counted.",
                  regime_name),
      fmt::format("Defaults: {} samples is LLaVA-OneVision's stage-1 data (LCS-558K); {:g} TFLOP/s is an H100 SXM's "
                  "dense BF16 peak; MFU {:g} is an assumption, not a measurement: set --mfu from your own measured "
                  "step (achieved FLOP/s / peak) and --device-tflops to your device's peak.",
                  PredictRequest::kLcs558kSamples, PredictRequest::kH100SxmBf16Tflops, PredictRequest::kDefaultMfu),
      "vs none: none's predicted time divided by the row's (> 1: faster); none compresses nothing (every visual "
      "token reaches the LM, the projector mlp2x_gelu). Methods inside the LM (fastv) are not listed.",
      "Predictions from shapes alone, every sample the same shape (crops and text tokens above); padding, data "
      "loading, communication and the optimiser are not in them."};
  return t;
}

}  // namespace laco
