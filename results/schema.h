// The results database: its schema, its migrations, and the checks that keep
// laco from writing into a file that is not its own.
//
// A laco database carries PRAGMA application_id 0x4C41434F ("LACO") and a
// schema_version table. Before anything is written, an existing file is
// inspected read-only; a file that is not SQLite, is corrupt, belongs to
// another application or has a newer schema is refused with its name and the
// problem, byte for byte untouched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "results/sqlite.h"

namespace laco {

constexpr int32_t kResultsApplicationId = 0x4C41434F;

/// The schema version this build writes.
int results_schema_version();

/// Read-only: `path` must exist and pass the checks. Writable: created (with
/// its directory) when absent, migrated to results_schema_version() when older.
sql::Connection open_results_db(const std::string& path, bool writable);

/// The tables that hold a run's current measurement (their column run_key):
/// what a new result replaces, what an archived measurement's content holds
/// (results/measurements.h) and what a merge copies. The archive itself,
/// `measurements`, is not among them: a new result never clears it.
const std::vector<std::string>& run_child_tables();

/// The columns of `runs` that belong to its current measurement rather than
/// to its configuration or its claim: the facts (`extra`) and the provenance.
/// The archive table `measurements` has the same columns.
const std::vector<std::string>& measurement_columns();

/// Removes a database file and its -wal, -shm and -journal companions, if present.
void remove_database_files(const std::string& path);

/// The checks alone, on a read-only connection; returns the schema version
/// found (0 for an empty file). Throws laco::Error for a file laco must not touch.
int inspect_results_db(const std::string& path);

}  // namespace laco
