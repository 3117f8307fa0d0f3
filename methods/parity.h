// Parity with the public reference implementations: load a case in the
// shared/parity format, build the method its metadata names in the reference's
// configuration, run it in float32, compare every stored output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

struct ParityOutput {
  std::string name;             ///< "output", "output.shuffled", ...
  std::vector<int64_t> shape;
  double max_abs = 0;           ///< max |ours - reference|
  double max_ref = 0;           ///< max |reference|
  double rel = 0;               ///< max_abs / max(1, max_ref), the shared/parity criterion
  bool pass = false;
};

struct ParityReport {
  std::string case_file;
  std::string weights_file;
  std::string method;
  double tolerance = 1e-4;
  std::vector<ParityOutput> outputs;
  bool pass() const;
};

/// Runs one case. `weights_file` empty: the case's metadata key `weights`
/// (relative to the case file), else the case file itself.
ParityReport run_parity(const std::string& case_file, const std::string& weights_file = "", double tolerance = 1e-4);

/// One row per compared output, for any printer (title: case, method, weights, tolerance).
PrintTable parity_table(const ParityReport& report);

}  // namespace laco
