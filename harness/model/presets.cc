#include "harness/model/presets.h"

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/named.h"
#include "harness/base/text.h"

namespace laco {
namespace {

LmShape qwen2(const std::string& size, int64_t width, int64_t layers, int64_t heads, int64_t kv_heads,
                int64_t mlp_dim, int64_t vocab, bool tied) {
  return {"Qwen2-" + size, "Qwen/Qwen2-" + size + " config.json",
          LmOptions().vocab(vocab).width(width).layers(layers).heads(heads).kv_heads(kv_heads).mlp_dim(mlp_dim).tie_embeddings(tied)};
}

Preset paper() {
  Preset p;
  p.name = "paper";
  p.summary = "SigLIP so400m/14 at 384 px + Qwen2-0.5B shape, LLaVA-OneVision anyres 1 + 4 crops (for a GPU)";
  p.model.encoder = EncoderOptions().image_size(384).patch_size(14).width(1152).depth(26).heads(16).mlp_dim(4304);
  p.model.lm = find_lm_shape("Qwen2-0.5B").lm;
  p.crops = 5;
  p.text_tokens = 128;
  p.batch = 8;
  p.train_batch = 8;
  p.warmup = 2;
  p.reps = 10;
  p.memory_budget_gib = 80;  // an A100 / H100 80 GB
  return p;
}

// The paper's proportions at CPU scale: an odd grid (13 x 13, like 27 x 27),
// the same encoder depth (so 1/4 resolves to block 7 in both), encoder:LM
// width 256:224 (paper 1152:896), MLP 3.75x / 5.4x, GQA 7:1, and an LM depth
// chosen so that the encoder:LM FLOP split (~3.5:1 with r = 2 after the
// encoder) and the attention share of an encoder block (0.115 vs 0.110)
// match the paper preset.
Preset cpu_small() {
  Preset p;
  p.name = "cpu-small";
  p.summary = "paper proportions scaled so one training step takes seconds on 2 CPU cores";
  p.model.encoder = EncoderOptions().image_size(182).patch_size(14).width(256).depth(26).heads(4).mlp_dim(960);
  p.model.lm = LmOptions().vocab(32000).width(224).layers(18).heads(7).kv_heads(1).mlp_dim(1216);
  p.crops = 5;
  p.text_tokens = 32;
  p.batch = 4;
  p.train_batch = 1;
  p.warmup = 1;
  p.reps = 5;
  // The paper preset's weights-to-budget proportion (3.6 GB of float32
  // weights in 80 GB) for cpu-small's 0.18 GB.
  p.memory_budget_gib = 4;
  return p;
}

Preset tiny() {
  Preset p;
  p.name = "tiny";
  p.summary = "toy sizes for tests (7 x 7 grid, 4 blocks)";
  p.model.encoder = EncoderOptions().image_size(28).patch_size(4).width(32).depth(4).heads(2).mlp_dim(64);
  p.model.lm = LmOptions().vocab(256).width(32).layers(2).heads(4).kv_heads(2).mlp_dim(64);
  p.crops = 2;
  p.text_tokens = 8;
  p.batch = 2;
  p.train_batch = 2;
  p.warmup = 1;
  p.reps = 2;
  p.gen_tokens = {2, 5};
  p.memory_budget_gib = 0.0625;
  return p;
}

}  // namespace

const std::vector<LmShape>& lm_shapes() {
  // hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
  // intermediate_size, vocab_size, tie_word_embeddings (0.5B and 1.5B tie
  // their embeddings, 7B does not; the FLOPs are the same either way).
  static const std::vector<LmShape> all = {qwen2("0.5B", 896, 24, 14, 2, 4864, 151936, true),
                                           qwen2("1.5B", 1536, 28, 12, 2, 8960, 151936, true),
                                           qwen2("7B", 3584, 28, 28, 4, 18944, 152064, false)};
  return all;
}

std::vector<std::string> lm_shape_names() { return names_of(lm_shapes()); }

const LmShape& find_lm_shape(const std::string& name, const std::string& where) {
  return find_named(lm_shapes(), name, "LM shape", where);
}

const std::vector<Preset>& presets() {
  static const std::vector<Preset> all = {paper(), cpu_small(), tiny()};
  return all;
}

std::vector<std::string> preset_names() { return names_of(presets()); }

const Preset& find_preset(const std::string& name, const std::string& where) {
  return find_named(presets(), name, "preset", where);
}

std::string describe_model(const MllmOptions& model) {
  const auto& e = model.encoder;
  const auto& l = model.lm;
  return fmt::format("  encoder  {} px, patch {}, grid {}, width {}, depth {}, heads {}, MLP {}\n", e.image_size(),
                     e.patch_size(), e.grid().str(), e.width(), e.depth(), e.heads(), e.mlp_dim()) +
         fmt::format("  lm       width {}, layers {}, heads {}, kv heads {}, MLP {}, vocab {}, {} embeddings\n",
                     l.width(), l.layers(), l.heads(), l.kv_heads(), l.mlp_dim(), l.vocab(),
                     l.tie_embeddings() ? "tied" : "untied");
}

std::string format_presets() {
  std::string out;
  for (const auto& p : presets()) {
    out += fmt::format("{}: {}\n", p.name, p.summary) + describe_model(p.model);
    out += fmt::format("  request  {} crops (1 base + {}), {} text tokens\n", p.crops, p.crops - 1, p.text_tokens);
    out += fmt::format("  measure  throughput batch {}, train batch {}, warm-up {}, reps {}\n", p.batch,
                       p.train_batch, p.warmup, p.reps);
    out += fmt::format("  decode   {} generated tokens, memory budget {:g} GiB\n\n", fmt::join(p.gen_tokens, " and "),
                       p.memory_budget_gib);
  }
  return out;
}

}  // namespace laco
