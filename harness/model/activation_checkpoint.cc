#include "harness/model/activation_checkpoint.h"

#include <unordered_set>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/utils.h>

namespace laco {

namespace {

// The function, kept by the autograd node until its backward (a context holds
// IValues; a capsule carries any intrusive object).
struct Recompute : torch::CustomClassHolder {
  explicit Recompute(CheckpointedFunction f) : f(std::move(f)) {}
  CheckpointedFunction f;
};

struct ActivationCheckpoint : torch::autograd::Function<ActivationCheckpoint> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const CheckpointedFunction& f) {
    torch::NoGradGuard no_grad;  // Function::apply already turns it off; said here as what this relies on
    ctx->saved_data["f"] = c10::IValue::make_capsule(c10::make_intrusive<Recompute>(f));
    ctx->save_for_backward({x});  // checks x's version: changed in place since, the backward fails
    return f(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto recompute = c10::static_intrusive_pointer_cast<Recompute>(ctx->saved_data.at("f").toCapsule());
    const auto x = ctx->get_saved_variables().at(0).detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);  // the engine runs a backward with grad mode off
      y = recompute->f(x);
    }
    // Nothing below y needs a gradient (f ignores x and its parameters are frozen): x gets none.
    if (!y.requires_grad()) return {torch::Tensor(), torch::Tensor()};
    // x's gradient as the backward sums it, before x.grad: accumulating into
    // a leaf copies it into x's strides where they differ (the first encoder
    // block's input is a transposed view), and a reduction below (a bias's
    // gradient) would then add in another order than without checkpointing.
    torch::Tensor x_grad;
    x.register_hook([&x_grad](const torch::Tensor& g) { x_grad = g; });
    torch::autograd::backward({y}, {grads.at(0)});
    // One gradient per forward input: x's, and none for f.
    return {x_grad, torch::Tensor()};
  }
};

}  // namespace

bool checkpoints(const torch::Tensor& x) { return torch::GradMode::is_enabled() && x.requires_grad(); }

torch::Tensor checkpointed(const CheckpointedFunction& f, const torch::Tensor& x) {
  if (!checkpoints(x)) return f(x);
  return ActivationCheckpoint::apply(x, f);
}

int64_t checkpoint_nodes(const torch::Tensor& y) {
  int64_t n = 0;
  std::vector<torch::autograd::Node*> todo;
  std::unordered_set<torch::autograd::Node*> seen;
  if (y.grad_fn()) todo.push_back(y.grad_fn().get());
  while (!todo.empty()) {
    auto* node = todo.back();
    todo.pop_back();
    if (!seen.insert(node).second) continue;
    n += dynamic_cast<torch::autograd::CppNode<ActivationCheckpoint>*>(node) != nullptr;
    for (const auto& edge : node->next_edges())
      if (edge.function) todo.push_back(edge.function.get());
  }
  return n;
}

}  // namespace laco
