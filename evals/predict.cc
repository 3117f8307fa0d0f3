#include "evals/predict.h"

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

}  // namespace

PrintTable predict_table(const PredictRequest& r) {
  const Common common = resolve_common(r);
  const Preset& preset = *common.preset;
  const auto& lms = common.lms;
  const auto& methods = common.methods;
  const int64_t crops = common.crops, text = common.text;
  const CausalCount causal =
      r.causal.empty() ? causal_count_in_use() : find_named(causal_counts(), r.causal, "causal count", "--causal").value;
  if (r.layers.empty()) fail("--layer: give at least one placement (e.g. {}, block:K)", join(predict_default_layers()));

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
        struct At {
          RunSpec spec;
          FlopBreakdown flops;
          int64_t visual = 0;
        };
        auto at = [&](const std::string& layer) {
          At a;
          Compressor c;
          a.spec = build_at(preset, model, method, ratio, layer, &c);
          a.flops = count_flops(model, c.get(), a.spec.block_k, crops, text, a.spec.method_is_projector(), causal);
          a.visual = crops * c->output_grid(model.encoder.grid()).tokens();
          return a;
        };
        const FlopBreakdown ext = at("1").flops;
        for (const auto& layer : r.layers) {
          const At a = at(layer);
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

}  // namespace laco
