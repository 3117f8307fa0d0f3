// Activation checkpointing (gradient checkpointing; PyTorch's reentrant
// torch.utils.checkpoint): a block's forward keeps none of its activations,
// only its input, and its backward runs the forward again to get them. It
// trades one more forward per block for the activation memory a fine-tune
// of a 0.9B LLaVA-OneVision model could not otherwise hold on this machine
// (VisionEncoderImpl and DecoderLMImpl::set_activation_checkpointing).
#pragma once

#include <cstdint>
#include <functional>

#include <torch/types.h>

namespace laco {

/// A block's forward as checkpointed() takes it: one tensor in, one out.
/// It may capture modules (their parameters are leaves) and tensors that
/// require no gradient (rotary tables, masks); a captured tensor that
/// requires one and is not a leaf would be back-propagated into twice.
using CheckpointedFunction = std::function<torch::Tensor(const torch::Tensor&)>;

/// Whether checkpointed(f, x) recomputes f: grad mode is on and x requires a gradient.
bool checkpoints(const torch::Tensor& x);

/// f(x), checkpointed when checkpoints(x): f then runs with gradients off
/// (no activation kept, only x, whose in-place change before the backward is
/// an error), and the backward runs f again with gradients on, on x detached
/// and requiring one, back-propagates the incoming gradient through it
/// (torch::autograd::backward: the parameters f uses accumulate into their
/// .grad, frozen ones stay untouched) and passes x's gradient on. As in
/// PyTorch's reentrant form, parameters reach their gradients only through
/// loss.backward(), not torch::autograd::grad(loss, parameters), and f must
/// compute the same thing twice (no randomness; the blocks here have none).
/// Otherwise (grad mode off, or x needs no gradient: the frozen blocks
/// before a trained compressor) it is f(x), recomputing nothing, and f's
/// parameters that require a gradient still get it, without the saving.
/// Usage: x = checkpointed([block](const torch::Tensor& in) { return block->forward(in); }, x);
torch::Tensor checkpointed(const CheckpointedFunction& f, const torch::Tensor& x);

/// How many checkpointed() calls the autograd graph below y holds (0 when y
/// has none): a check that checkpointing is on where it should be.
/// Usage: EXPECT_EQ(checkpoint_nodes(enc->forward(images).tokens), depth);
int64_t checkpoint_nodes(const torch::Tensor& y);

}  // namespace laco
