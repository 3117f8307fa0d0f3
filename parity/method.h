// Parity with the public reference implementations: load a case in the
// shared/parity format, build the method its metadata names in the reference's
// configuration, run it in float32, compare every stored output. `laco
// parity` also takes checkpoint cases (parity/checkpoint.h).
#pragma once

#include <optional>
#include <string>

#include "parity/report.h"

namespace laco {

/// The shared/parity criterion: max |ours - ref| <= 1e-4 max(1, max|ref|).
constexpr double kMethodParityTolerance = 1e-4;

/// Runs one case: a method case (shared/parity) or, when its metadata names a
/// checkpoint, a checkpoint case (parity/checkpoint.h). For a
/// method case, `weights_file` empty: the case's metadata key `weights`
/// (relative to the case file), else the case file itself. `tolerance`
/// unset: kMethodParityTolerance for a method, the derived ones for a checkpoint.
ParityReport run_parity(const std::string& case_file, const std::string& weights_file = "",
                        std::optional<double> tolerance = std::nullopt);

}  // namespace laco
