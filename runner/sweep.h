// `laco sweep`: runs every configuration of a sweep that the results database
// does not hold as done, records each result (or failure) atomically, and
// resumes after any interruption, SIGKILL included.
#pragma once

#include <map>
#include <set>
#include <utility>
#include <vector>
#include <string>

#include "runner/sweep_spec.h"
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

/// What each run of a sweep is for this invocation, from the states the
/// database holds (none for a run it does not know): to run, or not, and why.
struct SweepPlan {
  std::vector<std::vector<size_t>> todo;  ///< per unit of the sweep: the run indices to run
  std::set<std::string> remeasured;       ///< keys of done runs among them, measured again
  std::vector<size_t> done;               ///< not run: done (and not to be measured again)
  std::vector<size_t> failed_before;      ///< not run: failed before, without retry_failed
  std::vector<size_t> held;               ///< not run: being measured by another live process
  size_t to_run() const;
};
SweepPlan plan_sweep(const Sweep& sweep, const std::map<std::string, RunState>& states, bool retry_failed,
                     bool remeasure);

/// How execute_sweep runs what it is given.
struct ExecuteOptions {
  std::string progress_label = "sweep";     ///< the progress line's name
  std::string cache_dir = "results/cache";  ///< RunContext::cache_dir
  bool retry_failed = false, remeasure = false;  ///< what a claim may take (ResultStore::claim)
  /// Done runs being measured again: a failure or interrupt keeps their measurement (said in the log).
  std::set<std::string> remeasured;
  bool keep_records = false;  ///< return every record stored (laco run prints them)
  /// A line per run on stdout (a sweep's log); off where stdout is the command's result (laco run prints its records).
  bool log_runs = true;
};

/// What executing a sweep did.
struct Execution {
  size_t done = 0;             ///< runs recorded done
  size_t remeasured = 0;       ///< of them, done runs measured again
  size_t taken_elsewhere = 0;  ///< claimed by another process between planning and claiming
  std::vector<std::pair<std::string, std::string>> failed;  ///< "key  label", error
  bool interrupted = false;
  /// Why it stopped early, when the database would not take a claim (a full disk); "" otherwise.
  std::string stopped;
  /// With keep_records: (run index in the sweep, its record), in the order run.
  std::vector<std::pair<size_t, RunRecord>> records;
};

/// The one lifecycle of every run laco makes (`laco sweep` and `laco run`):
/// per unit of `todo` (run indices of each of the sweep's units), claim the
/// runs in `store` (none: nothing stored), run them together through their
/// evaluation, refuse a record with a non-finite metric, and record them done
/// or failed (a failure of a unit fails all its runs), or release them as
/// pending on SIGINT/SIGTERM and stop. Progress and a timestamped line per
/// run go to the terminal.
Execution execute_sweep(const Sweep& sweep, const std::vector<std::vector<size_t>>& todo, ResultStore* store,
                        const ExecuteOptions& options);

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
