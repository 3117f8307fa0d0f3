// `laco sweep`: runs every configuration of a sweep that the results database
// does not hold as done, records each result (or failure) atomically, and
// resumes after any interruption, SIGKILL included.
#pragma once

#include <map>
#include <string>

#include "harness/sweep/sweep_spec.h"
#include "results/store.h"

namespace laco {

struct SweepOptions {
  std::string db = "results/laco.db";
  bool dry_run = false;       ///< list the runs and their state; open nothing for writing
  bool retry_failed = false;  ///< rerun runs recorded as failed (otherwise they are skipped)
  /// Measure done runs again when their current measurement is not this
  /// build's (measured_by_this_build()): the new measurement becomes current,
  /// the old one is archived; a failed or interrupted re-measurement keeps the old.
  bool remeasure = false;
  std::string cache_dir = "results/cache";  ///< stage-0 models (not part of any run's key)
  std::string format = "table";  ///< the --dry-run listing's printer (printer_formats())
};

/// Exit status: 0 when every run of `sweep` is done, 1 when some failed (now
/// or before, and not retried), 130 after SIGINT/SIGTERM (the current run is
/// marked pending first). A run left `running` by a killed process is rerun.
int run_sweep(const Sweep& sweep, const SweepOptions& options);

/// The dry-run listing: every run with its key and state, then the totals,
/// printed in `format` (printer_formats()). `states` holds what the database
/// knows (empty when there is none). With `remeasure`, the done runs that
/// would be measured again are listed as `remeasure` and counted as to run.
std::string format_sweep_plan(const Sweep& sweep, const std::map<std::string, RunState>& states,
                              const std::string& db_note, const std::string& format = "table",
                              const std::vector<std::string>& extra_notes = {}, bool remeasure = false);

}  // namespace laco
