#include "results/schema.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/host.h"

namespace laco {

bool read_only_folder(const std::string& path);
namespace fs = std::filesystem;

namespace {

struct Migration {
  int version;
  std::string description;
  std::string sql;
  /// Work SQL alone cannot say (run after `sql`, in the same transaction).
  std::function<void(sql::Connection&)> step = nullptr;
};

// Versions 4 and 5: `runs.eval` takes 'benchmark', then 'finetune'. SQLite
// cannot alter a CHECK, so the table is rebuilt as its ALTER TABLE page
// prescribes (foreign keys off, which migrate() does for every migration):
// the views that read it are dropped and recreated as they were, its rows
// copied under a new table with the widened CHECK, which then takes the old
// one's name and indexes.
void widen_runs_eval(sql::Connection& c, int from_version, const std::string& old_check, const std::string& new_check) {
  auto text_rows = [&](const std::string& query) {
    std::vector<std::pair<std::string, std::string>> rows;
    auto q = c.prepare(query);
    while (q.step()) rows.emplace_back(q.text(0), q.text(1));
    return rows;
  };
  const auto views = text_rows("SELECT name, sql FROM sqlite_master WHERE type = 'view' ORDER BY rowid");
  const auto indexes =
      text_rows("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' AND sql IS NOT NULL");
  const auto table = text_rows("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'");
  if (table.size() != 1 || table[0].second.find(old_check) == std::string::npos)
    fail("{}: table runs is not as schema version {} defines it ({} not found); refusing to migrate it", c.path(),
         from_version, old_check);
  std::string create = table[0].second;
  create.replace(create.find(old_check), old_check.size(), new_check);
  create.replace(create.find("runs"), 4, "runs_rebuilt");
  for (const auto& [name, sql] : views) c.exec(fmt::format("DROP VIEW {}", name));
  c.exec(create);
  c.exec("INSERT INTO runs_rebuilt SELECT * FROM runs");
  c.exec("DROP TABLE runs");
  c.exec("ALTER TABLE runs_rebuilt RENAME TO runs");
  for (const auto& [name, sql] : indexes) c.exec(sql);
  for (const auto& [name, sql] : views) c.exec(sql);
}

// A view that pivots named metrics of done runs of one evaluation into columns.
std::string pivot_view(const std::string& view, const std::string& eval, const std::vector<std::string>& metrics,
                       const std::string& extra_columns) {
  std::string columns;
  for (const auto& m : metrics) columns += fmt::format("  MAX(CASE WHEN m.name = '{0}' THEN m.value END) AS {0},\n", m);
  return fmt::format(
      "CREATE VIEW {} AS\n"
      "SELECT r.key, r.preset, r.method, r.method_options, r.layer, r.block_k, r.depth, r.ratio, r.seed,\n"
      "{}  {}r.wall_seconds, r.git_commit, r.git_dirty, r.finished_at\n"
      "FROM runs r JOIN metrics m ON m.run_key = r.key\n"
      "WHERE r.eval = '{}' AND r.status = 'done'\n"
      "GROUP BY r.key;\n",
      view, columns, extra_columns, eval);
}

std::string schema_v1() {
  std::string sql = R"(
CREATE TABLE schema_version (
  version     INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at  TEXT NOT NULL
);

-- One row per configuration, keyed by a hash of its evaluation and resolved
-- configuration (config). The query columns (preset .. seed) repeat fields
-- of config for indexing and for the sqlite3 shell.
CREATE TABLE runs (
  key            TEXT PRIMARY KEY,
  eval           TEXT NOT NULL CHECK (eval IN ('accuracy', 'efficiency')),
  status         TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
  error          TEXT,
  config         TEXT NOT NULL CHECK (json_valid(config)),
  extra          TEXT CHECK (extra IS NULL OR json_valid(extra)),
  preset         TEXT NOT NULL,
  method         TEXT NOT NULL,
  method_options TEXT NOT NULL,
  layer          TEXT NOT NULL,
  block_k        INTEGER NOT NULL,
  depth          INTEGER NOT NULL,
  ratio          INTEGER NOT NULL,
  seed           INTEGER NOT NULL,
  group_key      TEXT,
  attempts       INTEGER NOT NULL DEFAULT 0,
  worker_host    TEXT,
  worker_pid     INTEGER,
  git_commit     TEXT,
  git_dirty      INTEGER,
  host           TEXT,
  device         TEXT,
  torch_version  TEXT,
  threads        TEXT,
  attention      TEXT,
  started_at     TEXT,
  finished_at    TEXT,
  wall_seconds   REAL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX runs_by_config ON runs (eval, method, block_k, ratio, seed);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE metrics (
  run_key TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  value   REAL,
  unit    TEXT NOT NULL,
  PRIMARY KEY (run_key, name)
) WITHOUT ROWID;

CREATE TABLE series (
  run_key TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  step    INTEGER NOT NULL,
  value   REAL,
  PRIMARY KEY (run_key, name, step)
) WITHOUT ROWID;

CREATE TABLE sweep_runs (
  sweep   TEXT NOT NULL,
  grid    TEXT NOT NULL,
  run_key TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  PRIMARY KEY (sweep, grid, run_key)
) WITHOUT ROWID;

CREATE VIEW v_runs AS
SELECT r.key, r.eval, r.status, r.preset, r.method, r.method_options, r.layer, r.block_k, r.depth, r.ratio, r.seed,
       r.attempts, r.wall_seconds, r.git_commit, r.git_dirty, r.host, r.started_at, r.finished_at, r.error,
       (SELECT group_concat(DISTINCT s.sweep) FROM sweep_runs s WHERE s.run_key = r.key) AS sweeps
FROM runs r;

CREATE VIEW v_metrics AS
SELECT r.key, r.eval, r.preset, r.method, r.method_options, r.layer, r.block_k, r.ratio, r.seed,
       m.name, m.value, m.unit
FROM runs r JOIN metrics m ON m.run_key = r.key
WHERE r.status = 'done';
)";
  sql += pivot_view("v_accuracy", "accuracy",
                    {"acc_color", "acc_shape", "acc_count", "acc_spatial", "acc_text", "acc_overall", "acc_mean",
                     "visual_tokens", "stage1_time", "stage2_time", "stage2_final_loss"},
                    "");
  sql += pivot_view("v_efficiency", "efficiency",
                    {"visual_tokens", "encoder_latency", "prefill_latency", "throughput", "train_step_time",
                     "train_fwd_bwd_time", "inference_peak_tensor", "train_peak_tensor", "flops_encoder",
                     "flops_prefill", "flops_train_step"},
                    "r.group_key, ");
  return sql;
}

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {
      {1, "runs, metrics, series, sweep membership; views v_runs, v_metrics, v_accuracy, v_efficiency", schema_v1()},
      {2, "raw data: samples (every timed repetition), predictions (every test question)", R"(
CREATE TABLE samples (
  run_key TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  metric  TEXT NOT NULL,
  rep     INTEGER NOT NULL,
  value   REAL NOT NULL,
  PRIMARY KEY (run_key, metric, rep)
) WITHOUT ROWID;

CREATE TABLE predictions (
  run_key    TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  question   INTEGER NOT NULL,
  id         TEXT NOT NULL,
  family     TEXT NOT NULL,
  answer     TEXT NOT NULL,
  predicted  TEXT NOT NULL,
  correct    INTEGER NOT NULL,
  PRIMARY KEY (run_key, question)
) WITHOUT ROWID;
)"},
      {3, "measurements: the archive of a run's superseded measurements (re-measured, or merged from another database)",
       R"(
-- A run's earlier measurements, archived whole when it is measured again:
-- the provenance and facts columns of `runs` as they were, and its rows of
-- metrics, series, samples and predictions as one JSON document (see
-- results/measurements.h). The current measurement stays in `runs` and its
-- tables, so every reader of version 2 reads a version 3 database alike.
CREATE TABLE measurements (
  run_key       TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  seq           INTEGER NOT NULL,
  archived_at   TEXT NOT NULL,
  content       TEXT NOT NULL CHECK (json_valid(content)),
  extra         TEXT CHECK (extra IS NULL OR json_valid(extra)),
  git_commit    TEXT,
  git_dirty     INTEGER,
  host          TEXT,
  device        TEXT,
  torch_version TEXT,
  threads       TEXT,
  attention     TEXT,
  started_at    TEXT,
  finished_at   TEXT,
  wall_seconds  REAL,
  PRIMARY KEY (run_key, seq)
);

-- Every measurement of every done run: the current one (seq 0) and the archived ones.
CREATE VIEW v_measurements AS
SELECT r.key, r.eval, r.preset, r.method, r.method_options, r.layer, r.block_k, r.ratio, r.seed,
       0 AS seq, 'current' AS state, r.git_commit, r.git_dirty, r.host, r.started_at, r.finished_at, r.wall_seconds
FROM runs r WHERE r.status = 'done'
UNION ALL
SELECT r.key, r.eval, r.preset, r.method, r.method_options, r.layer, r.block_k, r.ratio, r.seed,
       m.seq, 'archived', m.git_commit, m.git_dirty, m.host, m.started_at, m.finished_at, m.wall_seconds
FROM measurements m JOIN runs r ON r.key = m.run_key;
)"},
      {4, "benchmark runs: runs.eval takes 'benchmark'; responses (every question), response_journal (questions of "
          "an unfinished run)",
       R"(
-- Every question of a done benchmark run (evals/response.h): written with the
-- run's other rows when it is recorded; costs are NULL for imported samples.
CREATE TABLE responses (
  run_key       TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  question      INTEGER NOT NULL,
  id            TEXT NOT NULL,
  category      TEXT NOT NULL,
  image_id      TEXT NOT NULL,
  target        TEXT NOT NULL CHECK (json_valid(target)),
  response      TEXT NOT NULL,
  parsed        TEXT NOT NULL,
  score         REAL NOT NULL,
  fields        TEXT NOT NULL CHECK (json_valid(fields)),
  prompt_tokens INTEGER,
  visual_tokens INTEGER,
  output_tokens INTEGER,
  ttft_ms       REAL,
  tpot_ms       REAL,
  PRIMARY KEY (run_key, question)
) WITHOUT ROWID;

-- The questions a benchmark run has finished before it is done, each
-- committed as it finishes (one transaction each), so that a killed run
-- resumes at the next question. `build` is the commit label of the binary
-- that answered: another build's answers are not reused. Emptied for a run
-- when it is recorded done.
CREATE TABLE response_journal (
  run_key    TEXT NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
  question   INTEGER NOT NULL,
  build      TEXT NOT NULL,
  content    TEXT NOT NULL CHECK (json_valid(content)),
  written_at TEXT NOT NULL,
  PRIMARY KEY (run_key, question)
) WITHOUT ROWID;
)",
       [](sql::Connection& c) {
         widen_runs_eval(c, 3, "CHECK (eval IN ('accuracy', 'efficiency'))",
                         "CHECK (eval IN ('accuracy', 'efficiency', 'benchmark'))");
       }},
      {5, "fine-tunes: runs.eval takes 'finetune' (the loss curve is a series, the saved folder a fact)", "",
       [](sql::Connection& c) {
         widen_runs_eval(c, 4, "CHECK (eval IN ('accuracy', 'efficiency', 'benchmark'))",
                         "CHECK (eval IN ('accuracy', 'efficiency', 'benchmark', 'finetune'))");
       }},
  };
  return all;
}

const char* kAllowed = "a results database written by laco, or a path that does not exist yet";

// The version recorded in an open laco database (0: no schema yet).
int read_version(sql::Connection& c) {
  const auto has_table = c.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'");
  if (std::get<int64_t>(has_table) == 0) return 0;
  const auto v = c.scalar("SELECT max(version) FROM schema_version");
  return std::holds_alternative<int64_t>(v) ? static_cast<int>(std::get<int64_t>(v)) : 0;
}

void migrate(sql::Connection& c) {
  // Off for a table rebuild (version 4): dropping `runs` must not cascade to
  // its children. It cannot change inside a transaction, so it is set around
  // it; the rows are checked before the commit.
  c.exec("PRAGMA foreign_keys = OFF");
  struct On {
    sql::Connection& c;
    ~On() {
      try {
        c.exec("PRAGMA foreign_keys = ON");
      } catch (...) {
      }
    }
  } on{c};
  sql::Transaction t(c);
  // Read again under the write lock: another process may have migrated meanwhile.
  const int current = read_version(c);
  if (current == 0) {
    const auto tables = std::get<int64_t>(c.scalar("SELECT count(*) FROM sqlite_master"));
    if (tables != 0) fail("{}: has tables but no laco schema; refusing to modify it (allowed: {})", c.path(), kAllowed);
    c.exec(fmt::format("PRAGMA application_id = {}", kResultsApplicationId));
  }
  for (const auto& m : migrations()) {
    if (m.version <= current) continue;
    c.exec(m.sql);
    if (m.step) m.step(c);
    auto insert = c.prepare("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)");
    insert.bind(1, m.version).bind(2, m.description).bind(3, utc_now()).run();
  }
  if (c.prepare("PRAGMA foreign_key_check").step())
    fail("{}: a migration left rows whose run is missing; nothing was changed", c.path());
  t.commit();
}

// A new database is built complete (WAL mode, schema, application id) under
// a temporary name and only then linked to `path`: a process killed at any
// moment leaves either no database or a whole one (at worst a stray
// PATH.creating-PID). link() never replaces: when another process created
// `path` first, its database is kept and ours is dropped.
void create_results_db(const std::string& path) {
  const std::string tmp = fmt::format("{}.creating-{}", path, getpid());
  remove_database_files(tmp);
  try {
    sql::Connection c(tmp, sql::Connection::Mode::kCreate);
    c.exec("PRAGMA journal_mode = WAL");
    migrate(c);
  } catch (const Error& e) {  // a full disk, a file-size limit: nothing half-built is left behind
    remove_database_files(tmp);
    fail("{}: cannot create the database ({}); nothing was written", path, e.what());
  }  // the last connection closes: the WAL is checkpointed into the file and removed
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int error = errno;
  remove_database_files(tmp);
  if (linked != 0 && error != EEXIST) fail("{}: cannot create the database: {}", path, std::strerror(error));
}

}  // namespace

int results_schema_version() { return migrations().back().version; }

const std::vector<std::string>& run_child_tables() {
  static const std::vector<std::string> tables = {"metrics", "series", "samples", "predictions", "responses"};
  return tables;
}

const std::vector<std::string>& measurement_columns() {
  static const std::vector<std::string> columns = {"extra",   "git_commit", "git_dirty",  "host",
                                                   "device",  "torch_version", "threads", "attention",
                                                   "started_at", "finished_at", "wall_seconds"};
  return columns;
}

void remove_database_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

// A WAL-mode reader must create PATH-shm beside the file. Where it cannot
// (read-only media, a folder this user cannot write), a database whose WAL
// holds nothing is the file alone and is read as immutable; one with
// transactions still in its WAL cannot be read there, and the error says why.
bool read_only_folder(const std::string& path) {
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  if (::access(dir.c_str(), W_OK) == 0) return false;
  std::error_code ec;
  const auto wal = fs::file_size(path + "-wal", ec);
  if (!ec && wal > 0)
    fail("{}: on read-only media (or in a folder this user cannot write) with committed transactions still in "
         "{}-wal, which SQLite cannot read without writing {}-shm (allowed: copy the database and its -wal to a "
         "writable folder, or open it once where it was written so that the WAL is checkpointed)",
         path, path, path);
  return true;
}

int inspect_results_db(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail("{}: not a regular file (allowed: {})", path, kAllowed);
  const auto size = fs::file_size(path, ec);
  if (ec) fail("{}: cannot read: {}", path, ec.message());
  if (size == 0) return 0;  // provably empty: nothing to lose
  char header[16] = {0};
  std::ifstream in(path, std::ios::binary);
  in.read(header, sizeof header);
  if (!in || std::memcmp(header, "SQLite format 3\0", 16) != 0)
    fail("{}: not an SQLite database (allowed: {}); the file was not modified", path, kAllowed);

  // Without a -wal (or -journal) the file alone is the database: read it as
  // immutable so that not even -wal and -shm files appear beside a file that
  // may not be laco's. With one, a committed transaction may live there.
  const bool side_files = fs::exists(path + "-wal", ec) || fs::exists(path + "-journal", ec);
  sql::Connection c(path, side_files && !read_only_folder(path) ? sql::Connection::Mode::kReadOnly
                                                                : sql::Connection::Mode::kImmutable);
  int64_t app_id = 0, objects = 0;
  try {
    app_id = std::get<int64_t>(c.scalar("PRAGMA application_id"));
    const auto check = c.scalar("PRAGMA quick_check");
    if (sql::to_text(check) != "ok") fail("integrity check: {}", sql::to_text(check));
    objects = std::get<int64_t>(c.scalar("SELECT count(*) FROM sqlite_master"));
  } catch (const Error& e) {
    fail("{}: corrupt or unreadable SQLite database ({}); the file was not modified", path, e.what());
  }
  // No application id and no table, index or view: provably empty (an
  // earlier version killed while creating it could leave this), so nothing
  // can be lost by initialising it.
  if (app_id == 0 && objects == 0) return 0;
  if (app_id != kResultsApplicationId)
    fail("{}: not a laco results database (application_id 0x{:08x}, expected 0x{:08x} 'LACO'; allowed: {}); "
         "the file was not modified",
         path, static_cast<uint32_t>(app_id), static_cast<uint32_t>(kResultsApplicationId), kAllowed);
  const int version = read_version(c);
  if (version == 0) fail("{}: marked as a laco database but has no schema_version table; the file was not modified", path);
  if (version > results_schema_version())
    fail("{}: schema version {} is newer than this build's {} (allowed: up to {}; update laco); "
         "the file was not modified",
         path, version, results_schema_version(), results_schema_version());
  return version;
}

sql::Connection open_results_db(const std::string& path, bool writable) {
  std::error_code ec;
  int version = 0;
  if (fs::exists(path, ec)) {
    version = inspect_results_db(path);
  } else if (!writable) {
    fail("{}: no such results database (run `laco sweep SPEC --db {}` first)", path, path);
  } else {
    const auto dir = fs::path(path).parent_path();
    if (!dir.empty()) fs::create_directories(dir, ec);
    if (ec) fail("{}: cannot create directory {}: {}", path, dir.string(), ec.message());
  }
  if (!writable) {
    if (version == 0)
      fail("{}: an empty database file, not yet a laco results database; nothing to read (run `laco sweep SPEC "
           "--db {}` to initialise it)",
           path, path);
    return sql::Connection(path, read_only_folder(path) ? sql::Connection::Mode::kImmutable
                                                        : sql::Connection::Mode::kReadOnly);
  }
  // Writing needs the folder too (a new database is built beside it, and
  // SQLite's -wal and -shm files live there): said as what it is, not as
  // SQLite's "unable to open database file".
  const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
  if (::access(dir.c_str(), W_OK) != 0 || (fs::exists(path, ec) && ::access(path.c_str(), W_OK) != 0))
    fail("{}: cannot be written here: {} (allowed: a database in a folder this user can write; laco query, report "
         "and compare read it where it is)",
         path, std::strerror(errno));
  if (!fs::exists(path, ec)) {
    create_results_db(path);
    version = inspect_results_db(path);  // ours, or the one another process linked first
  }
  sql::Connection c(path, sql::Connection::Mode::kCreate);
  // WAL lets `laco query` read while a sweep writes; the setting persists in the file.
  c.exec("PRAGMA journal_mode = WAL");
  if (version < results_schema_version()) migrate(c);
  return c;
}

}  // namespace laco
