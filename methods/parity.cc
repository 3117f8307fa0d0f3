#include "methods/parity.h"

#include <cmath>
#include <filesystem>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/safetensors.h"
#include "methods/registry.h"

namespace laco {

bool ParityReport::pass() const {
  if (outputs.empty()) return false;
  for (const auto& o : outputs)
    if (!o.pass) return false;
  return true;
}

namespace {

Grid square_grid(const torch::Tensor& x, const std::string& source) {
  if (x.dim() != 3) fail("{}: input.x must be [batch, tokens, channels]", source);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(x.size(1)))));
  if (side * side != x.size(1)) fail("{}: input.x has {} tokens, not a square grid", source, x.size(1));
  return {side, side};
}

}  // namespace

ParityReport run_parity(const std::string& case_file, const std::string& weights_file, double tolerance) {
  if (!(tolerance >= 0)) fail("parity: tolerance must be >= 0, got {}", tolerance);
  const SafeTensors data = SafeTensors::load(case_file);
  const auto& meta = data.metadata();
  auto it = meta.find("method");
  if (it == meta.end()) fail("{}: __metadata__ has no 'method' key naming the method to check", case_file);

  ParityReport report;
  report.case_file = case_file;
  report.method = it->second;
  report.tolerance = tolerance;
  const MethodInfo& info = find_method(report.method);
  if (!info.make_reference) fail("{}: method '{}' has no reference configuration to check", case_file, report.method);
  Compressor module = info.make_reference(ReferenceConfig(case_file, meta));

  report.weights_file = weights_file;
  if (report.weights_file.empty()) {
    auto w = meta.find("weights");
    report.weights_file = w == meta.end()
                              ? case_file
                              : (std::filesystem::path(case_file).parent_path() / w->second).string();
  }
  if (report.weights_file == case_file) {
    module->load_reference_weights(data);
  } else {
    module->load_reference_weights(SafeTensors::load(report.weights_file));
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
    if (found == ours.end()) fail("{}: method '{}' produces no '{}' to compare", case_file, report.method, name);
    const torch::Tensor ref = data.get(name).to(torch::kFloat32);
    const torch::Tensor got = found->second.to(torch::kFloat32);
    if (ref.sizes() != got.sizes())
      fail("{}: '{}' has shape [{}] in the reference but [{}] here", case_file, name, fmt::join(ref.sizes(), ", "),
           fmt::join(got.sizes(), ", "));
    ParityOutput o;
    o.name = name;
    o.shape = ref.sizes().vec();
    o.max_abs = (got - ref).abs().max().item<double>();
    o.max_ref = ref.abs().max().item<double>();
    o.rel = o.max_abs / std::max(1.0, o.max_ref);
    o.pass = std::isfinite(o.rel) && o.rel <= tolerance;
    report.outputs.push_back(o);
  }
  if (report.outputs.empty()) fail("{}: holds no 'output' tensor to compare against", case_file);
  return report;
}

PrintTable parity_table(const ParityReport& r) {
  PrintTable t;
  t.title = fmt::format("{}\n  method {}  weights {}  tolerance {:g} (relative to max(1, max|ref|))", r.case_file,
                        r.method, r.weights_file, r.tolerance);
  t.columns = {{"output"}, {"shape"}, {"max_abs"}, {"max|ref|"}, {"rel"}, {"result"}};
  for (const auto& o : r.outputs)
    t.add({o.name, fmt::format("[{}]", fmt::join(o.shape, ",")), o.max_abs, o.max_ref, o.rel,
           std::string(o.pass ? "PASS" : "FAIL")});
  return t;
}

}  // namespace laco
