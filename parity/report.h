// What a parity check reports, whatever it checks: a method against its
// reference implementation's outputs (parity/method.h) or a checkpoint
// loaded here against its reference model's outputs (parity/checkpoint.h).
// Each compared output carries its own tolerance, relative to max(1, max|ref|).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "harness/print/table.h"

namespace laco {

struct ParityOutput {
  std::string name;             ///< "output", "output.shuffled", "output.logits", ...
  std::vector<int64_t> shape;
  double max_abs = 0;           ///< max |ours - reference|
  double max_ref = 0;           ///< max |reference|
  double rel = 0;               ///< max_abs / max(1, max_ref), the shared/parity criterion
  double tolerance = 0;         ///< the largest rel that passes
  bool pass = false;
};

struct ParityReport {
  std::string case_file;
  std::string subject;          ///< "method ldpv2  weights FILE" or "checkpoint DIR (qwen2: ...)"
  std::string tolerance_rule;   ///< how the tolerances were chosen
  std::vector<ParityOutput> outputs;
  /// Every output compared passes (false with none).
  bool pass() const;
};

/// Compares `ours` with `reference` (same shape, else an Error naming `source`
/// and `name`), both taken to float64. Usage: report.outputs.push_back(compare_output(...));
ParityOutput compare_output(const std::string& source, const std::string& name, const at::Tensor& ours,
                            const at::Tensor& reference, double tolerance);

/// One row per compared output, for any printer.
PrintTable parity_table(const ParityReport& report);

}  // namespace laco
