#include "parity/checkpoint.h"

#include <filesystem>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/float32.h"
#include "harness/base/safetensors.h"
#include "harness/model/checkpoint.h"
#include "harness/model/mllm.h"

namespace laco {

namespace {

int64_t layer_norm_chain(int64_t width) { return 2 * width + 4; }  // mean, variance, normalise, scale, shift

}  // namespace

int64_t encoder_chain_length(const EncoderOptions& e, int64_t blocks, bool post_layernorm) {
  const int64_t c = e.width(), n = e.grid().tokens(), d = e.width() / e.heads();
  int64_t chain = e.channels() * e.patch_size() * e.patch_size() + 2;  // the patch product, its bias, the position
  const int64_t block = layer_norm_chain(c) + (c + 1)  // ln1, qkv
                        + d + (n + 2) + n             // scores, softmax (max, sum, divide), weights x values
                        + (c + 1) + 1                 // out_proj, residual
                        + layer_norm_chain(c) + (c + 1) + 8 + (e.mlp_dim() + 1) + 1;  // ln2, fc1, tanh GELU, fc2, residual
  chain += blocks * block;
  if (post_layernorm) chain += layer_norm_chain(c);
  return chain;
}

int64_t lm_chain_length(const LmOptions& l, int64_t tokens, int64_t input_chain) {
  const int64_t w = l.width(), hd = l.head_dim();
  const int64_t rms = w + 3;  // mean of squares, rsqrt, scale
  const int64_t layer = rms + (w + 1) + 3        // input_layernorm, q/k projection, rotary
                        + hd + (tokens + 2) + tokens  // scores, causal softmax, weights x values
                        + l.heads() * hd + 1          // o_proj, residual
                        + rms + w + 4 + 1 + l.mlp_dim() + 1;  // post-attention norm, gate, SiLU, x up, down, residual
  return input_chain + l.layers() * layer + rms + w;  // final norm, the head's dot products
}

bool is_checkpoint_parity_case(const std::map<std::string, std::string>& metadata) {
  return metadata.count("checkpoint") != 0;
}

ParityReport run_checkpoint_parity(const std::string& case_file, std::optional<double> tolerance) {
  const SafeTensors data = SafeTensors::load(case_file);
  const auto& meta = data.metadata();
  if (!is_checkpoint_parity_case(meta)) fail("{}: __metadata__ has no 'checkpoint' key naming the checkpoint folder", case_file);
  const std::string dir = (std::filesystem::path(case_file).parent_path() / meta.at("checkpoint")).string();
  const CheckpointConfig config = read_checkpoint_config(dir);
  auto kind = meta.find("kind");
  if (kind != meta.end() && kind->second != config.kind)
    fail("{}: the case is for a {} checkpoint but {}/config.json describes a {} one", case_file, kind->second, dir,
         config.kind);

  ParityReport report;
  report.case_file = case_file;
  report.tolerance_rule = tolerance ? fmt::format("{:g} (given)", *tolerance)
                                    : "2 gamma_n (n: rounded operations along the output's chain), "
                                      "relative to max(1, max|ref|); parity/checkpoint.h";
  auto compare = [&](const std::string& name, const torch::Tensor& ours, int64_t chain) {
    if (!data.contains(name)) fail("{}: holds no '{}' to compare against", case_file, name);
    report.outputs.push_back(
        compare_output(case_file, name, ours, data.get(name), tolerance ? *tolerance : float32_tolerance(chain, 1.0)));
  };
  auto input = [&](const std::string& name, torch::ScalarType type) { return data.get(name).to(type); };

  torch::NoGradGuard no_grad;
  CheckpointLoad load;
  if (config.kind == "siglip") {
    VisionEncoder encoder(*config.encoder);
    load = load_checkpoint(config, encoder.get(), nullptr);
    encoder->eval();
    const int64_t depth = config.encoder->depth();
    std::vector<int64_t> keep;
    for (int64_t i = 1; i <= depth; ++i) keep.push_back(i);
    const auto out = encoder->forward(input("input.pixel_values", torch::kFloat32), keep);
    for (int64_t i = 1; i <= depth; ++i)
      compare(fmt::format("output.hidden_states.{}", i), out.hidden.at(i), encoder_chain_length(*config.encoder, i));
    compare("output.post_layernorm", out.tokens, encoder_chain_length(*config.encoder, depth, true));
  } else if (config.kind == "qwen2") {
    DecoderLM lm(*config.lm);
    load = load_checkpoint(config, nullptr, lm.get());
    lm->eval();
    const auto ids = input("input.input_ids", torch::kLong);
    compare("output.logits", lm->logits(lm->forward(lm->embed(ids))), lm_chain_length(*config.lm, ids.size(1)));
  } else {
    Mllm model(checkpoint_model(config, MllmOptions{}));
    load = load_checkpoint(config, *model);
    model->eval();
    const auto pixels = input("input.pixel_values", torch::kFloat32);
    const auto ids = input("input.input_ids", torch::kLong);
    const auto features = model->project(model->encode(pixels.unsqueeze(1)));
    const auto& e = model->options().encoder;
    const int64_t d = model->options().lm.width();
    const int64_t chain = encoder_chain_length(e, e.depth()) + (e.width() + 1) + 8 + (d + 1);
    compare("output.image_features", features, chain);
    const auto logits = model->lm->logits(model->lm_hidden(features, ids));
    compare("output.logits", logits, lm_chain_length(model->options().lm, logits.size(1), chain));
  }
  report.subject = fmt::format("checkpoint {} ({}; {} tensors loaded{})", dir, config.summary(), load.tensors,
                               load.skipped.empty() ? "" : "; skipped: " + fmt::format("{}", fmt::join(load.skipped, "; ")));
  return report;
}

}  // namespace laco
