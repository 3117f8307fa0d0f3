// Runs with known values, as the results database would return them, for the
// report tests (tables, golden files, plots) and the database round trip.
#pragma once

#include <vector>

#include "evals/run_record.h"

namespace laco::test {

/// Accuracy on SynthVQA `small` (depth 8, seeds 0 and 1) and efficiency on
/// `cpu-small` (depth 12, seed 0) for all six methods at 1/12, 1/4, 1/2 and 1
/// with r = 2, plus r = 3 and 4 at 1/4. TokenPacker has no accuracy run at 1/4
/// (r = 2): the tables must show dashes there. Values are documented where made.
std::vector<RunRecord> report_fixture_runs();

}  // namespace laco::test
