// Runs in the results database: registering a sweep's runs as pending,
// claiming them, recording a result or a failure atomically, reading them back.
#pragma once

#include <cstdint>
#include <map>
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
  std::string worker_host;
  int64_t worker_pid = 0;
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
  /// Claims the runs that are free to run, atomically (one write-locked
  /// transaction reads each state and updates it): pending ones, ones left
  /// `running` by a process that is gone, and failed ones when `retry_failed`.
  /// They become running in this process (attempts + 1, error cleared);
  /// `group_key` names the runs measured together. Returns the keys claimed,
  /// in the order given: a run done, failed or held by a live process meanwhile
  /// (another sweep on the same database) is left to it.
  std::vector<std::string> claim(const std::vector<std::string>& keys, const std::string& group_key,
                                 bool retry_failed = true);
  /// Stores each (key, record): status done, provenance, metrics, series and
  /// the record's facts (the `extra` column), all in one transaction, so
  /// that a run is either entirely present or absent. Only a run this process
  /// holds (running, this host and pid) is recorded; an Error otherwise, and
  /// nothing is written.
  void record_done(const std::vector<std::pair<std::string, RunRecord>>& results);
  /// Status failed with the error text. One transaction.
  void record_failed(const std::vector<std::string>& keys, const std::string& error);
  /// Back to pending (an interrupted run). One transaction.
  void release(const std::vector<std::string>& keys);

 private:
  sql::Connection db_;
};

/// A run marked `running` by a process that is still alive on this host (so
/// another sweep is on it). Anything else marked running was left behind by a
/// killed process and counts as not done.
bool held_by_live_process(const RunState& state);

/// Whether a sweep may run a run in this state: pending, failed when
/// `retry_failed`, or running by a process that is gone. The one rule behind
/// ResultStore::claim and the sweep's plan.
bool claimable(const RunState& state, bool retry_failed);

}  // namespace laco
