// A run's measurements: the current one (the `runs` row's provenance columns
// and the run's rows in run_child_tables()) and the superseded ones, kept in
// the `measurements` archive when a run is measured again (`laco sweep
// --remeasure`) or when a merge meets the same run measured twice. An
// archived measurement keeps everything the current one had, raw data
// included, so its statistics can be recomputed; it is never edited.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "results/sqlite.h"

namespace laco {

/// One measurement of a run as stored, in a form two databases can compare.
struct StoredMeasurement {
  int64_t seq = 0;  ///< 0: the run's current measurement; else its number in the archive
  std::string archived_at;  ///< "" for the current one
  /// The values of measurement_columns() (results/schema.h), in that order.
  std::vector<sql::Value> columns;
  /// Every row of the run in run_child_tables(), as JSON text: {"metrics":
  /// [{"name": ..., "unit": ..., "value": ...}, ...], "series": [...],
  /// "samples": [...], "predictions": [...]}, each table in primary-key order
  /// without its run_key column. The same rows always give the same text.
  std::string content;

  /// Same provenance, facts and rows: one measurement, kept once.
  bool same_as(const StoredMeasurement& other) const { return columns == other.columns && content == other.content; }
  /// A column's value by name (an Error for a name not in measurement_columns()).
  const sql::Value& column(const std::string& name) const;
  /// finished_at, then started_at: which of two measurements is the newer.
  std::pair<std::string, std::string> when() const;
};

/// The run's current measurement (schema version 3). An Error when `key` is not a run.
StoredMeasurement current_measurement(sql::Connection& db, const std::string& key);
/// The run's archived measurements, oldest number first (none before schema version 3).
std::vector<StoredMeasurement> archived_measurements(sql::Connection& db, const std::string& key);
/// Adds `m` to the run's archive under the next free number; returns that number.
int64_t archive_measurement(sql::Connection& db, const std::string& key, const StoredMeasurement& m);
/// Whether the database has the archive (schema version 3 on).
bool has_measurement_archive(sql::Connection& db);

/// The measurement's facts (`extra`) and provenance columns, into `record`:
/// the one reading of them, for current runs (report/load.h) and archived ones.
void read_provenance(const StoredMeasurement& m, RunRecord& record, const std::string& where);

/// The measurement as a RunRecord of `spec`: facts, metrics, series, samples,
/// predictions and provenance, as report/load.h reads a current run.
/// `where` names it in errors ("laco.db: run KEY, archived measurement 2").
RunRecord measurement_record(const StoredMeasurement& m, const RunSpec& spec, const std::string& where);

}  // namespace laco
