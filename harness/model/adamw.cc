#include "harness/model/adamw.h"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {

AdamW::AdamW(std::vector<AdamWGroup> groups, AdamWOptions options) : groups_(std::move(groups)), options_(options) {
  for (const auto& g : groups_) {
    std::vector<torch::Tensor> m, v;
    for (const auto& p : g.params) {
      if (!p.requires_grad()) fail("adamw: group '{}' holds a parameter that does not require grad", g.name);
      m.push_back(torch::zeros_like(p));
      v.push_back(torch::zeros_like(p));
    }
    exp_avg_.push_back(std::move(m));
    exp_avg_sq_.push_back(std::move(v));
    param_steps_.emplace_back(g.params.size(), 0);
  }
}

void AdamW::step(double factor) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const double lr = groups_[g].lr * factor;
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      torch::Tensor p = groups_[g].params[i];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      const double t = static_cast<double>(++param_steps_[g][i]);
      const double bias1 = 1 - std::pow(b1, t);
      const double bias2_sqrt = std::sqrt(1 - std::pow(b2, t));
      p.mul_(1 - lr * groups_[g].weight_decay);
      auto& m = exp_avg_[g][i];
      auto& v = exp_avg_sq_[g][i];
      m.lerp_(grad, 1 - b1);
      v.mul_(b2).addcmul_(grad, grad, 1 - b2);
      const auto denom = (v.sqrt() / bias2_sqrt).add_(options_.eps);
      p.addcdiv_(m, denom, -lr / bias1);
    }
  }
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params)
      if (p.grad().defined()) p.mutable_grad() = torch::Tensor();
}

double AdamW::grad_norm() const {
  std::vector<torch::Tensor> norms;
  for (const auto& g : groups_)
    for (const auto& p : g.params)
      if (p.grad().defined()) norms.push_back(p.grad().norm());
  if (norms.empty()) return 0;
  return torch::stack(norms).norm().item<double>();
}

double AdamW::clip_grad_norm(double max_norm) {
  // torch.nn.utils.clip_grad_norm_: the norm of the per-tensor norms, in the gradients' dtype.
  const double total = grad_norm();
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    torch::NoGradGuard no_grad;
    for (auto& g : groups_)
      for (auto& p : g.params)
        if (p.grad().defined()) p.mutable_grad().mul_(static_cast<float>(coef));
  }
  return total;
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  out.emplace_back("step", torch::tensor({steps_}, torch::kInt64));
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      out.emplace_back(fmt::format("{}.{}.exp_avg", groups_[g].name, i), exp_avg_[g][i]);
      out.emplace_back(fmt::format("{}.{}.exp_avg_sq", groups_[g].name, i), exp_avg_sq_[g][i]);
      out.emplace_back(fmt::format("{}.{}.step", groups_[g].name, i), torch::tensor({param_steps_[g][i]}, torch::kInt64));
    }
  return out;
}

void AdamW::load_state(const SafeTensors& state, const std::string& source) {
  const auto& step = state.get("step");
  if (step.scalar_type() != torch::kInt64 || step.numel() != 1) fail("{}: 'step' must be one I64", source);
  torch::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      for (auto [suffix, into] : {std::pair{"exp_avg", &exp_avg_[g][i]}, {"exp_avg_sq", &exp_avg_sq_[g][i]}}) {
        const std::string name = fmt::format("{}.{}.{}", groups_[g].name, i, suffix);
        const auto& t = state.get(name);
        if (t.sizes() != into->sizes() || t.scalar_type() != into->scalar_type())
          fail("{}: optimizer state '{}' is {} [{}], its parameter's {} [{}]", source, name,
               c10::toString(t.scalar_type()), fmt::join(t.sizes(), ", "), c10::toString(into->scalar_type()),
               fmt::join(into->sizes(), ", "));
        into->copy_(t);
      }
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const std::string name = fmt::format("{}.{}.step", groups_[g].name, i);
      const auto& t = state.get(name);
      if (t.scalar_type() != torch::kInt64 || t.numel() != 1) fail("{}: '{}' must be one I64", source, name);
      param_steps_[g][i] = t.item<int64_t>();
    }
  steps_ = step.item<int64_t>();
}

double cosine_warmup_factor(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  const double progress =
      static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * 2.0 * 0.5 * progress)));
}

int64_t warmup_steps(double ratio, int64_t total) {
  return static_cast<int64_t>(std::ceil(ratio * static_cast<double>(total)));
}

}  // namespace laco
