// How long the runs a sweep still has to do will take, predicted from the
// wall times of finished runs in the same results database (`laco sweep
// --dry-run`). Only runs of the same evaluation, preset and thread count are
// used; the closest match wins (same method, ratio and block, else the
// preset's median). Accuracy runs are predicted without stage 0, and each
// stage 0 the sweep will have to train (its model is not in the cache) is
// added once, at the median stage-0 time measured before.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "runner/sweep_spec.h"
#include "results/sqlite.h"

namespace laco {

struct DurationEstimate {
  double seconds = 0;        ///< of the runs that have a prediction
  size_t predicted = 0;      ///< runs with a prediction
  size_t unknown = 0;        ///< runs nothing in the database predicts
  size_t stage0 = 0;         ///< stage-0 trainings included
  size_t history = 0;        ///< finished runs the prediction drew on
  /// "about 14m for 12 of 15 runs (2 stage-0 trainings included; medians of 40 finished runs in this
  /// database); 3 runs have no finished run of their kind to go by".
  std::string describe() const;
};

/// Usage: estimate_duration(sweep, {0, 3, 4}, store.db(), "results/cache").describe()
DurationEstimate estimate_duration(const Sweep& sweep, const std::vector<size_t>& to_run, sql::Connection& db,
                                   const std::string& cache_dir);

}  // namespace laco
