// Runs in the results database: registering a sweep's runs as pending,
// claiming them, recording a result or a failure atomically, reading them back.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_record.h"
#include "evals/run_spec.h"
#include "results/sqlite.h"

namespace laco {

/// A run as the store knows it before it is measured.
struct PlannedRun {
  std::string key;
  RunSpec spec;  ///< resolved; stored as to_json(spec)
  std::vector<std::string> grids;  ///< the grids of the sweep that asked for it
};

struct RunState {
  std::string status;  ///< pending, running, done or failed
  std::string error;
  int64_t attempts = 0;
  /// The process that holds the run: one measuring it (running), or one
  /// measuring a done run again (status stays done until the new result is in).
  std::string worker_host;
  int64_t worker_pid = 0;
  /// The current measurement's commit (done runs).
  std::string git_commit;
  std::optional<bool> git_dirty;
};

/// Usage: ResultStore store("results/laco.db", true); store.register_runs("smoke", runs); ...
class ResultStore {
 public:
  /// Opens (and for writing creates or migrates) the database; see open_results_db().
  ResultStore(const std::string& path, bool writable);

  const std::string& path() const { return db_.path(); }
  sql::Connection& db() { return db_; }

  /// Adds the runs not yet present as pending and records that `sweep` asked
  /// for them; existing runs keep their status. One transaction.
  void register_runs(const std::string& sweep, const std::vector<PlannedRun>& runs);
  /// The state of each key present in the database.
  std::map<std::string, RunState> states(const std::vector<std::string>& keys);
  /// Claims the runs that are free to run (claimable()), atomically (one
  /// write-locked transaction reads each state and updates it): pending ones,
  /// ones left `running` by a process that is gone, failed ones when
  /// `retry_failed`, and with `remeasure` done ones measured at another commit.
  /// They are held by this process (attempts + 1): a run not done becomes
  /// running (error cleared); a done run stays done, its current measurement
  /// untouched and readable, until record_done() archives it and stores the
  /// new one. `group_key` names the runs measured together. Returns the keys
  /// claimed, in the order given: a run done, failed or held by a live process
  /// meanwhile (another sweep on the same database) is left to it.
  std::vector<std::string> claim(const std::vector<std::string>& keys, const std::string& group_key,
                                 bool retry_failed = true, bool remeasure = false);
  /// Stores each (key, record): status done, provenance, metrics, series, raw
  /// data and the record's facts (the `extra` column), all in one transaction,
  /// so that a run is either entirely present or absent. A run that was done
  /// (a re-measurement) has its current measurement moved to the archive
  /// (results/measurements.h) in the same transaction. Only a run this process
  /// holds (this host and pid) is recorded; an Error otherwise, and nothing is
  /// written.
  void record_done(const std::vector<std::pair<std::string, RunRecord>>& results);
  /// Status failed with the error text. A failed re-measurement of a done
  /// run leaves it done with its current measurement; `error` then says that
  /// the re-measurement failed and why. One transaction.
  void record_failed(const std::vector<std::string>& keys, const std::string& error);
  /// Back to pending (an interrupted run), or, for a done run being
  /// re-measured, back to done as it was. One transaction.
  void release(const std::vector<std::string>& keys);

 private:
  sql::Connection db_;
};

/// A run held (running, or done and being re-measured) by another process
/// that is still alive on this host (so another sweep is on it). Anything
/// else marked running was left behind by a killed process and counts as not
/// done; a done run whose re-measuring process is gone is simply done.
bool held_by_live_process(const RunState& state);

/// Whether a done run's current measurement was made by this build: the same
/// commit, and neither tree had uncommitted changes (a build with changes may
/// differ from any other build of its commit, so its runs never count as its own).
bool measured_by_this_build(const RunState& state);

/// Whether a sweep may run a run in this state: pending, failed when
/// `retry_failed`, running by a process that is gone, or, with `remeasure`,
/// done but not measured_by_this_build() and not being re-measured by a live
/// process. The one rule behind ResultStore::claim and the sweep's plan; it
/// makes an interrupted re-measurement resume where it stopped.
bool claimable(const RunState& state, bool retry_failed, bool remeasure = false);

}  // namespace laco
