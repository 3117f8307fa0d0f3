#include "parity/method.h"

#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/safetensors.h"
#include "parity/checkpoint.h"
#include "methods/registry.h"

namespace laco {

namespace {

Grid square_grid(const torch::Tensor& x, const std::string& source) {
  if (x.dim() != 3) fail("{}: input.x must be [batch, tokens, channels]", source);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(x.size(1)))));
  if (side * side != x.size(1)) fail("{}: input.x has {} tokens, not a square grid", source, x.size(1));
  return {side, side};
}

}  // namespace

ParityReport run_parity(const std::string& case_file, const std::string& weights_file,
                        std::optional<double> tolerance_given) {
  const double tolerance = tolerance_given.value_or(kMethodParityTolerance);
  if (!(tolerance >= 0)) fail("parity: tolerance must be >= 0, got {}", tolerance);
  const SafeTensors data = SafeTensors::load(case_file);
  const auto& meta = data.metadata();
  if (is_checkpoint_parity_case(meta)) {
    if (!weights_file.empty())
      fail("{}: --weights applies to method cases; a checkpoint case reads the folder its metadata names", case_file);
    return run_checkpoint_parity(case_file, tolerance_given);
  }
  auto it = meta.find("method");
  if (it == meta.end()) fail("{}: __metadata__ has no 'method' key naming the method to check", case_file);

  const std::string method = it->second;
  ParityReport report;
  report.case_file = case_file;
  report.tolerance_rule = fmt::format("{:g} (the shared/parity criterion)", tolerance);
  const MethodInfo& info = find_method(method);
  if (!info.make_reference) fail("{}: method '{}' has no reference configuration to check", case_file, method);
  Compressor module = info.make_reference(ReferenceConfig(case_file, meta));

  std::string weights = weights_file;
  if (weights.empty()) {
    auto w = meta.find("weights");
    weights = w == meta.end() ? case_file : (std::filesystem::path(case_file).parent_path() / w->second).string();
  }
  report.subject = fmt::format("method {}  weights {}", method, weights);
  if (weights == case_file) {
    module->load_reference_weights(data);
  } else {
    module->load_reference_weights(SafeTensors::load(weights));
  }

  torch::NoGradGuard no_grad;
  module->eval();
  const torch::Tensor x = data.get("input.x").to(torch::kFloat32);
  std::vector<torch::Tensor> features;
  if (data.contains("input.x_multi")) features.push_back(data.get("input.x_multi").to(torch::kFloat32));
  const auto ours = module->reference_outputs(x, square_grid(x, case_file), features);

  for (const auto& name : data.names()) {
    if (name != "output" && name.rfind("output.", 0) != 0) continue;
    auto found = ours.find(name);
    if (found == ours.end()) fail("{}: method '{}' produces no '{}' to compare", case_file, method, name);
    report.outputs.push_back(compare_output(case_file, name, found->second, data.get(name).to(torch::kFloat32), tolerance));
  }
  if (report.outputs.empty()) fail("{}: holds no 'output' tensor to compare against", case_file);
  return report;
}

}  // namespace laco
