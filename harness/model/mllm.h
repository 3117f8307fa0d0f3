// The multimodal LLM: vision encoder (with its compressor) -> projector
// (mlp2x_gelu) -> decoder LM over [visual tokens, text tokens]. A method
// after the encoder may instead be the projector itself, as its reference
// builds it (InternVL's mlp1, MobileVLM V2's LDPv2, TokenPacker): it maps to
// the LM width and the mlp2x_gelu is removed.
#pragma once

#include <cstdint>
#include <functional>

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include "harness/model/anyres.h"
#include "harness/model/encoder.h"
#include "harness/model/lm.h"

namespace laco {

struct MllmOptions {
  EncoderOptions encoder;
  LmOptions lm;
  /// LLaVA-OneVision's image_newline [LM width], the token after each row of
  /// an anyres image (image_features); off for the harness's own runs, whose
  /// crops are concatenated without it.
  bool image_newline = false;
};

/// What MllmImpl::generate() returns.
struct Generation {
  torch::Tensor ids;        ///< [B, n] generated ids
  int64_t prompt = 0;       ///< positions of the prompt: visual + text tokens
  int64_t cache_bytes = 0;  ///< the KV cache at the end (KvCache::bytes: prompt + n - 1 positions, all requests)
};

/// Usage: Mllm m(options); m->insert(c, k); auto logits = m->prefill(images, text);
/// An Error naming the method when it leaves no grid for LLaVA-OneVision's
/// anyres packing (tokens kept or merged inside the encoder); none for none.
void check_anyres_method(const Compressor& compressor);

class MllmImpl : public torch::nn::Module {
 public:
  explicit MllmImpl(MllmOptions options);

  /// images [B, crops, 3, S, S] -> visual tokens [B, crops * N_out, C]; each
  /// crop goes through the encoder, their tokens are concatenated (anyres).
  torch::Tensor encode(const torch::Tensor& images);
  /// Visual tokens [..., C] -> LM embeddings [..., D].
  torch::Tensor project(const torch::Tensor& visual);
  /// LM hidden states over [visual embeddings, text embeddings].
  torch::Tensor lm_hidden(const torch::Tensor& visual_embeddings, const torch::Tensor& text_ids);
  /// Time to first token: the logits of the last position [B, vocab].
  torch::Tensor prefill(const torch::Tensor& images, const torch::Tensor& text_ids);
  /// Greedy generation of exactly `n` >= 1 ids (argmax; no end-of-sequence
  /// stop, so that every configuration generates the same number of tokens,
  /// as decode benchmarks fix the output length). The prompt [visual, text]
  /// is prefilled into a KV cache with room for prompt + n - 1 positions
  /// (the last id is not fed back), then each id is fed back one step at a
  /// time. `on_token(i)` runs as soon as id i (0-based) is known: id 0 ends
  /// the prefill (time to first token).
  /// Usage: auto g = m->generate(images, ids, 16, [&](int64_t i) { stamps.push_back(now()); });
  Generation generate(const torch::Tensor& images, const torch::Tensor& text_ids, int64_t n,
                      const std::function<void(int64_t)>& on_token = {});
  /// Greedy decoding from prompt embeddings [B, T, D] (any layout: a
  /// released model's prompt with the image spliced in, see image_features),
  /// at most `n` ids, stopping early once every request has produced `stop`
  /// (>= 0; -1: never). `prune` is the LM pruning for the prompt's visual
  /// positions. generate() above is this on [visual, text] without a stop.
  Generation generate_from(const torch::Tensor& prompt, const LmPrune& prune, int64_t n, int64_t stop,
                           const std::function<void(int64_t)>& on_token = {});
  /// One image's LM-width features as LLaVA-OneVision packs them: its crops
  /// [1 + rows * cols, 3, S, S] (base image, then tiles) encoded, projected
  /// and packed (harness/model/anyres.h) with image_newline when the model
  /// has it. The method's output grid is each tile's grid; a method that
  /// leaves no grid (tokens kept or merged inside the encoder) is an Error.
  torch::Tensor image_features(const torch::Tensor& crops, const AnyresLayout& layout);
  /// The grid of each crop's tokens that image_features packs (the encoder's
  /// output grid), or an Error naming the method when it has none.
  Grid anyres_tile_grid() const;
  /// The LM pruning of a method inside the LM for `count` visual positions
  /// from `start` on: the share of them it keeps of one crop's grid.
  LmPrune lm_prune_span(int64_t start, int64_t count) const;
  /// Next-token cross-entropy on the text tokens (each text position predicts the next id).
  torch::Tensor loss(const torch::Tensor& images, const torch::Tensor& text_ids);

  /// Puts `compressor` after block k of the encoder. With `as_projector` it
  /// also replaces the projector: k must be the last block and the method must
  /// map the encoder width to the LM width. Usage: m->insert(c, depth, true)
  void insert(Compressor compressor, int64_t k, bool as_projector = false);
  /// True once a method has replaced the mlp2x_gelu projector.
  bool method_is_projector() const { return method_is_projector_; }

  /// Visual tokens per image (all crops) the LM holds after the method: the
  /// encoder's output, or what a method inside the LM keeps (FastV's budget).
  int64_t visual_tokens(int64_t crops) const;
  /// Visual tokens per image that enter the LM (the encoder's output).
  int64_t visual_input_tokens(int64_t crops) const;
  /// The pruning a method inside the LM applies to a prompt whose first
  /// `visual` positions are visual tokens (inactive for every other method).
  LmPrune lm_prune(int64_t visual) const;
  const MllmOptions& options() const { return options_; }

  VisionEncoder encoder{nullptr};
  torch::nn::Sequential projector{nullptr};
  DecoderLM lm{nullptr};
  torch::Tensor image_newline;  ///< [D] with options().image_newline, else undefined

 private:
  MllmOptions options_;
  bool method_is_projector_ = false;
};
TORCH_MODULE(Mllm);

}  // namespace laco
