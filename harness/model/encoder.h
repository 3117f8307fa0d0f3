// The vision encoder: SigLIP's vision transformer (transformers'
// SiglipVisionTransformer: a patch convolution with bias, a learned position
// embedding, pre-LN blocks, tanh GELU, optional post_layernorm) that can host
// a compressor after block k and run blocks k+1..L on the compressed grid.
// Random weights start from 2-D sin-cos positions; harness/model/checkpoint.h
// loads released ones (SigLIP's q/k/v rows go into the packed qkv).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "harness/model/compressor.h"
#include "harness/model/grid.h"

namespace laco {

/// Usage: EncoderOptions().image_size(384).patch_size(14).width(1152).depth(26).heads(16).mlp_dim(4304)
struct EncoderOptions {
  /// floor(image / patch) on each side (the patch convolution has no padding).
  Grid grid() const;
  void validate() const;

  TORCH_ARG(int64_t, image_size) = 384;
  TORCH_ARG(int64_t, patch_size) = 14;
  TORCH_ARG(int64_t, width) = 1152;
  TORCH_ARG(int64_t, depth) = 26;
  TORCH_ARG(int64_t, heads) = 16;
  TORCH_ARG(int64_t, mlp_dim) = 4304;
  TORCH_ARG(int64_t, channels) = 3;
  TORCH_ARG(double, ln_eps) = 1e-6;
  /// SigLIP's final LayerNorm over the last block's output (last_hidden_state).
  /// Off in the MLLM: LLaVA(-OneVision) feeds the projector the last block's
  /// hidden state before it (vision_feature_layer -1); on to check a SigLIP checkpoint.
  TORCH_ARG(bool, post_layernorm) = false;
  /// Blocks asked for no gradient run LibTorch's native multi-head attention
  /// and the vectorised GELU (EncoderBlockImpl::forward_fused); false keeps
  /// the op-by-op composition everywhere (the reference the tests compare with).
  TORCH_ARG(bool, fused_inference) = true;
};

/// LayerNorm -> MHA -> residual, LayerNorm -> MLP (tanh-GELU) -> residual.
/// Usage: EncoderBlock block(256, 4, 960, 1e-6); auto y = block->forward(x);
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(int64_t width, int64_t heads, int64_t mlp_dim, double ln_eps, bool fused_inference = true);
  /// forward_fused when fused inference is on and no gradient is wanted (grad
  /// mode off, or neither x nor any weight of the block requires one);
  /// forward_composed otherwise.
  torch::Tensor forward(const torch::Tensor& x);
  /// The op-by-op form autograd differentiates (laco::attention, at::gelu).
  torch::Tensor forward_composed(const torch::Tensor& x);
  /// Inference only: at::_native_multi_head_attention (one QKV product, its
  /// fused bias/scale/head split, softmax and output projection; on Torch 2.x
  /// it calls scaled_dot_product_attention), gelu_tanh_ and in-place residual
  /// adds. Equal to forward_composed within float rounding (tests/test_encoder.cc).
  torch::Tensor forward_fused(const torch::Tensor& x);
  /// Whether forward(x) takes forward_fused.
  bool takes_fused(const torch::Tensor& x) const;
  /// What a token reduction inside the block sees: the attention's keys
  /// [B, heads, N, d] and probabilities [B, heads, N, N].
  struct Attention {
    torch::Tensor keys, probs;
  };
  /// A token reduction between the attention (its residual added) and the
  /// MLP: (h [B, N, C], size, attention) -> (h' [B, N', C], size').
  using Reduction = std::function<std::pair<torch::Tensor, torch::Tensor>(const torch::Tensor& h, const torch::Tensor& size,
                                                                          const Attention& attention)>;
  /// The block with `reduce` between attention and MLP, as ToMe's ToMeBlock
  /// and EViT's Block place theirs: attention with proportional attention
  /// when `size` [B, N, 1] is defined (log(size) on every key's logit;
  /// undefined: every token holds one patch), then `reduce`, then the MLP on
  /// the reduced tokens. The composed ops (the fused kernel returns neither
  /// keys nor probabilities). Returns the tokens and their sizes.
  std::pair<torch::Tensor, torch::Tensor> forward_reducing(const torch::Tensor& x, const torch::Tensor& size,
                                                           const Reduction& reduce);
  /// Token Merging inside the block (ToMe's ToMeBlock; harness/model/token_merge.h):
  /// forward_reducing with one bipartite soft matching per entry of `r`, on
  /// the keys averaged over heads, size-weighted; a second matching in the
  /// same block matches the size-weighted means of the keys the first one
  /// merged. Usage: std::tie(x, size) = block->forward_merging(x, size, {27});
  std::pair<torch::Tensor, torch::Tensor> forward_merging(const torch::Tensor& x, const torch::Tensor& size,
                                                          const std::vector<int64_t>& r);

  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};

 private:
  int64_t heads_;
  bool fused_inference_;
};
TORCH_MODULE(EncoderBlock);

/// Which kernels an encoder block runs for inference, for provenance:
/// "native_mha+gelu_tanh_vec" (fused_inference) or "composed".
const char* encoder_inference_kernels(const EncoderOptions& options);

/// Usage: VisionEncoder enc(EncoderOptions()); enc->set_compressor(c, 6); auto out = enc->forward(images);
class VisionEncoderImpl : public torch::nn::Module {
 public:
  struct Output {
    torch::Tensor tokens;  ///< [B, H_out * W_out, width] (a compressor after the last block: its out_dim)
    Grid grid;             ///< the grid of `tokens`
    /// Hidden states (block outputs) of the blocks asked for, by 1-based index.
    std::map<int64_t, torch::Tensor> hidden;
  };

  explicit VisionEncoderImpl(EncoderOptions options);

  /// Puts `compressor` after block k (1..depth), replacing any earlier one;
  /// checks now that it can take the grid and the blocks it needs exist. Its
  /// input width must be the encoder's, and so must its output width unless k = depth.
  void set_compressor(Compressor compressor, int64_t k);
  void clear_compressor();
  const Compressor& compressor() const { return compressor_; }
  int64_t compressor_block() const { return compressor_block_; }

  /// images [B, channels, S, S]; `keep` lists blocks whose hidden states to return.
  /// post_layernorm, when on, follows the last block (before a compressor there).
  Output forward(const torch::Tensor& images, const std::vector<int64_t>& keep = {});

  /// Activation checkpointing of the blocks (harness/model/activation_checkpoint.h):
  /// when on, forward() runs each block whose input requires a gradient (grad
  /// mode on) through checkpointed(), keeping only the block's input for the
  /// backward, which runs the block again. Same values and gradients; frozen
  /// blocks whose input needs no gradient (before a trained compressor) and
  /// inference run as when off. The compressor is not checkpointed, nor a
  /// method inside the blocks (ToMe, EViT: forward_block). Off by default.
  /// Usage: enc->set_activation_checkpointing(true); enc->forward(images).tokens.sum().backward();
  void set_activation_checkpointing(bool on) { activation_checkpointing_ = on; }
  bool activation_checkpointing() const { return activation_checkpointing_; }

  const EncoderOptions& options() const { return options_; }
  /// The grid forward() returns.
  Grid output_grid() const;

  torch::nn::Conv2d patch_embed{nullptr};
  torch::Tensor pos_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};  ///< registered only with options().post_layernorm()

 private:
  void init_position_embedding();
  EncoderOptions options_;
  Compressor compressor_;
  int64_t compressor_block_ = 0;
  bool activation_checkpointing_ = false;
};
TORCH_MODULE(VisionEncoder);

}  // namespace laco
