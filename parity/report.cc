#include "parity/report.h"

#include <cmath>

#include <torch/torch.h>

#include "harness/base/error.h"

namespace laco {

bool ParityReport::pass() const {
  if (outputs.empty()) return false;
  for (const auto& o : outputs)
    if (!o.pass) return false;
  return true;
}

ParityOutput compare_output(const std::string& source, const std::string& name, const at::Tensor& ours,
                            const at::Tensor& reference, double tolerance) {
  if (!(tolerance >= 0)) fail("parity: tolerance must be >= 0, got {}", tolerance);
  if (reference.sizes() != ours.sizes())
    fail("{}: '{}' has shape [{}] in the reference but [{}] here", source, name, fmt::join(reference.sizes(), ", "),
         fmt::join(ours.sizes(), ", "));
  const auto ref = reference.detach().to(torch::kFloat64), got = ours.detach().to(torch::kFloat64);
  ParityOutput o;
  o.name = name;
  o.shape = ref.sizes().vec();
  o.max_abs = ref.numel() ? (got - ref).abs().max().item<double>() : 0;
  o.max_ref = ref.numel() ? ref.abs().max().item<double>() : 0;
  o.rel = o.max_abs / std::max(1.0, o.max_ref);
  o.tolerance = tolerance;
  o.pass = std::isfinite(o.rel) && o.rel <= tolerance;
  return o;
}

PrintTable parity_table(const ParityReport& r) {
  PrintTable t;
  t.title = fmt::format("{}\n  {}\n  tolerance: {}", r.case_file, r.subject, r.tolerance_rule);
  t.columns = {{"output"}, {"shape"}, {"max_abs"}, {"max|ref|"}, {"rel"}, {"tolerance"}, {"result"}};
  for (const auto& o : r.outputs)
    t.add({o.name, fmt::format("[{}]", fmt::join(o.shape, ",")), o.max_abs, o.max_ref, o.rel, o.tolerance,
           std::string(o.pass ? "PASS" : "FAIL")});
  return t;
}

}  // namespace laco
