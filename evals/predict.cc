#include "evals/predict.h"

#include <fmt/format.h>

#include "evals/efficiency.h"
#include "evals/flops.h"
#include "evals/run_spec.h"
#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/model/presets.h"
#include "methods/registry.h"

namespace laco {
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

}  // namespace

PrintTable predict_table(const PredictRequest& r) {
  const Preset& preset = find_preset(r.preset, "--preset");
  const auto lms = resolve_lms(r, preset);
  const int64_t crops = r.crops.value_or(preset.crops), text = r.text_tokens.value_or(preset.text_tokens);
  if (crops < 1 || crops > kMaxCrops)
    fail("--crops: must be in 1..{} (images per request: base + crops), got {}", kMaxCrops, crops);
  if (text < 2 || text > kMaxTextTokens) fail("--text-tokens: must be in 2..{}, got {}", kMaxTextTokens, text);
  const CausalCount causal =
      r.causal.empty() ? causal_count_in_use() : find_named(causal_counts(), r.causal, "causal count", "--causal").value;
  std::vector<std::string> methods = r.methods;
  if (methods.empty())
    for (const auto& m : method_registry())
      if (m.name != "none") methods.push_back(m.name);
  for (const auto& m : methods)
    if (find_method(m).name == "none") fail("--method: none compresses nothing, so it has no speed-up to predict");
  if (r.layers.empty()) fail("--layer: give at least one placement (1/12, 1/6, 1/4, 1/2, block:K)");
  if (r.ratios.empty()) fail("--ratio: give at least one ratio");

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
        struct At {
          RunSpec spec;
          FlopBreakdown flops;
          int64_t visual = 0;
        };
        auto at = [&](const std::string& layer) {
          RunRequest q;
          q.preset = preset.name;
          q.method = method;
          q.layer = layer;
          q.ratio = ratio;
          // Weights do not change FLOPs: the quickest initialisation (no trunc_normal's erfinv, which
          // took TokenPacker's 15 M paper-width weights about 0.9 s per build).
          q.init = "torch_default";
          At a;
          Compressor c;
          a.spec = resolve_method_placement(q, model, &c);
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
      "Predictions from shapes alone (evals/flops.h); what a machine measures differs by its fixed costs and "
      "kernel speeds: `laco run --eval efficiency` measures."};
  return t;
}

}  // namespace laco
