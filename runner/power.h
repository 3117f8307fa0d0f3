// What a sweep's claims can detect before it runs (`laco sweep --dry-run`,
// `laco run --dry-run`): for each claimed comparison, the smallest relative
// difference its planned rounds find at the 5% level with 80% probability
// (harness/base/rank_tests.h), at the noise this machine showed: each
// efficiency measurement stores the spread of its per-round log ratios
// ("round_noise", evals/efficiency.h), and the newest measurement of the same
// preset and thread count in the results database is the calibration.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "results/sqlite.h"
#include "runner/sweep_spec.h"

namespace laco {

/// One line per claim ("efficiency laco 1/4 vs laco 1, r=2, seed 0: 8 rounds
/// detect train_step_time ±3.1%, ..."), and a line on where the noise comes
/// from; none when the sweep has no claims. `db` may be null (no database yet).
std::vector<std::string> claim_power_notes(const Sweep& sweep, sql::Connection* db);

/// The smallest relative difference (exp(shift) - 1) the signed-rank test on
/// `rounds` pairs detects at 5% with 80% power when the per-round log ratio
/// has standard deviation `noise`; nullopt when no outcome can (fewer than 6 rounds).
std::optional<double> detectable_difference(int64_t rounds, double noise);

}  // namespace laco
