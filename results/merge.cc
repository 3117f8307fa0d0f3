#include "results/merge.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "evals/run_spec.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "results/measurements.h"
#include "results/schema.h"
#include "results/sqlite.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

// The first field in which two stored configurations differ beyond what the
// run key ignores, for the conflict message ("" when they are one configuration).
std::string config_difference(const std::string& eval_a, const std::string& a_text, const std::string& eval_b,
                              const std::string& b_text) {
  if (eval_a != eval_b) return fmt::format("eval {} vs {}", eval_a, eval_b);
  nlohmann::json a, b;
  const std::string pa = parse_json(a_text, a), pb = parse_json(b_text, b);
  if (!pa.empty() || !pb.empty() || !a.is_object() || !b.is_object())
    return fmt::format("a configuration that is not a JSON object ({})", pa.empty() ? pb : pa);
  if (run_key(eval_a, a) == run_key(eval_b, b)) return "";
  for (const auto& [field, value] : a.items())
    if (!b.contains(field)) return fmt::format("field {} only in the first", field);
    else if (b[field] != value) return fmt::format("{} = {} vs {}", field, value.dump(), b[field].dump());
  for (const auto& [field, value] : b.items())
    if (!a.contains(field)) return fmt::format("field {} only in the second", field);
  return "configurations that differ";
}

class Merger {
 public:
  Merger(sql::Connection& out, const std::string& out_path) : out_(out), out_path_(out_path) {
    auto info = out_.prepare("SELECT name FROM pragma_table_info('runs') ORDER BY cid");
    while (info.step()) columns_.push_back(info.text(0));
    auto keys = out_.prepare("SELECT key FROM runs");
    while (keys.step()) source_[keys.text(0)] = out_path + " (before the merge)";
  }

  void merge(sql::Connection& in, const std::string& in_path, MergeSummary& summary) {
    auto rows = in.prepare(fmt::format("SELECT {} FROM runs ORDER BY key", join(columns_)));
    const int status_col = column("status"), key_col = column("key"), eval_col = column("eval"),
              config_col = column("config");
    while (rows.step()) {
      const std::string key = rows.text(key_col), status = rows.text(status_col);
      std::optional<std::string> out_status;
      std::string out_eval, out_config;
      {
        auto existing = out_.prepare("SELECT status, eval, config FROM runs WHERE key = ?");
        existing.bind(1, key);
        if (existing.step()) {
          out_status = existing.text(0);
          out_eval = existing.text(1);
          out_config = existing.text(2);
        }
      }
      if (out_status) {
        const std::string diff = config_difference(out_eval, out_config, rows.text(eval_col), rows.text(config_col));
        if (!diff.empty()) {
          conflicts_.push_back(fmt::format("run {} ({} {} {} r={} seed={}): {} in {} vs {}", key, rows.text(eval_col),
                                           rows.text(column("method")), rows.text(column("layer")),
                                           rows.text(column("ratio")), rows.text(column("seed")), diff, source_[key],
                                           in_path));
          continue;
        }
      }
      if (!out_status) {
        insert_run(rows, in, key);
        ++summary.added;
      } else if (status == "done" && *out_status == "done") {
        const StoredMeasurement ours = current_measurement(out_, key), theirs = current_measurement(in, key);
        if (held(key, theirs)) {
          ++summary.identical;
        } else if (theirs.when() > ours.when()) {  // theirs is newer: it becomes current, ours is archived
          archive_measurement(out_, key, ours);
          replace_run(rows, in, key);
          ++summary.both;
        } else {
          archive_measurement(out_, key, theirs);
          ++summary.both;
        }
      } else if (status == "done") {
        replace_run(rows, in, key);
        ++summary.replaced;
      } else {
        ++summary.kept;
      }
      for (const auto& m : archived_measurements(in, key))
        if (!held(key, m)) {
          archive_measurement(out_, key, m);
          ++summary.archived;
        }
      if (!source_.count(key)) source_[key] = in_path;
      auto members = in.prepare("SELECT sweep, grid FROM sweep_runs WHERE run_key = ?");
      members.bind(1, key);
      while (members.step())
        out_.prepare("INSERT OR IGNORE INTO sweep_runs (sweep, grid, run_key) VALUES (?, ?, ?)")
            .bind(1, members.text(0))
            .bind(2, members.text(1))
            .bind(3, key)
            .run();
    }
  }

  void check_conflicts() const {
    if (conflicts_.empty()) return;
    std::string list;
    for (const auto& c : conflicts_) list += "\n  " + c;
    fail("{}: {} run(s) with one key but different configurations; nothing was merged:{}\n"
         "(allowed: inputs whose runs under one key have one configuration; the key is a hash of it, so one of "
         "them was edited or written by a laco with another key; keep one copy, e.g. sqlite3 IN \"DELETE FROM runs "
         "WHERE key = 'KEY'\")",
         out_path_, conflicts_.size(), list);
  }

 private:
  int column(const std::string& name) const {
    for (size_t i = 0; i < columns_.size(); ++i)
      if (columns_[i] == name) return static_cast<int>(i);
    fail("{}: runs table has no column {}", out_path_, name);
  }

  // Whether OUT already holds this measurement of the run (current or archived).
  bool held(const std::string& key, const StoredMeasurement& m) {
    auto done = out_.prepare("SELECT status FROM runs WHERE key = ?");
    done.bind(1, key);
    if (done.step() && done.text(0) == "done" && current_measurement(out_, key).same_as(m)) return true;
    for (const auto& a : archived_measurements(out_, key))
      if (a.same_as(m)) return true;
    return false;
  }

  void insert_run(sql::Statement& row, sql::Connection& in, const std::string& key) {
    std::vector<std::string> marks(columns_.size(), "?");
    auto insert = out_.prepare(fmt::format("INSERT INTO runs ({}) VALUES ({})", join(columns_), join(marks)));
    for (size_t c = 0; c < columns_.size(); ++c) insert.bind(static_cast<int>(c + 1), row.value(static_cast<int>(c)));
    insert.run();
    copy_children(in, key);
  }

  // OUT's row of the run becomes the input's, with its current measurement
  // (OUT's archive stays).
  void replace_run(sql::Statement& row, sql::Connection& in, const std::string& key) {
    for (const auto& child : run_child_tables())
      out_.prepare(fmt::format("DELETE FROM {} WHERE run_key = ?", child)).bind(1, key).run();
    std::vector<std::string> sets;
    for (const auto& c : columns_)
      if (c != "key") sets.push_back(c + " = ?");
    auto update = out_.prepare(fmt::format("UPDATE runs SET {} WHERE key = ?", join(sets)));
    int p = 1;
    for (size_t c = 0; c < columns_.size(); ++c)
      if (columns_[c] != "key") update.bind(p++, row.value(static_cast<int>(c)));
    update.bind(p, key).run();
    copy_children(in, key);
  }

  // Every row of every table that holds the run's current measurement, copied column for column.
  void copy_children(sql::Connection& in, const std::string& key) {
    for (const auto& table : run_child_tables()) {
      std::vector<std::string> names;
      auto info = in.prepare(fmt::format("PRAGMA table_info({})", table));
      while (info.step()) names.push_back(info.text(1));
      std::vector<std::string> marks(names.size(), "?");
      auto rows = in.prepare(fmt::format("SELECT {} FROM {} WHERE run_key = ?", join(names), table));
      rows.bind(1, key);
      auto put = out_.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", table, join(names), join(marks)));
      while (rows.step()) {
        for (size_t c = 0; c < names.size(); ++c) put.bind(static_cast<int>(c + 1), rows.value(static_cast<int>(c)));
        put.run();
        put.reset();
      }
    }
  }

  sql::Connection& out_;
  std::string out_path_;
  std::vector<std::string> columns_;
  std::map<std::string, std::string> source_;  // run -> where OUT's row came from
  std::vector<std::string> conflicts_;
};

}  // namespace

MergeSummary merge_results(const std::string& out, const std::vector<std::string>& inputs) {
  if (inputs.empty()) fail("merge: no input databases (usage: laco merge OUT IN...)");
  std::error_code ec;
  for (const auto& in : inputs) {
    if (!fs::exists(in, ec)) fail("{}: no such results database", in);
    if (fs::exists(out, ec) && fs::equivalent(in, out, ec))
      fail("{}: is both the output and an input (allowed: an OUT that is not among the inputs)", in);
    const int version = inspect_results_db(in);
    if (version == 0)
      fail("{}: an empty database file, not yet a laco results database; nothing to merge (allowed: a results "
           "database a sweep wrote)",
           in);
    if (version != results_schema_version())
      fail("{}: schema version {} differs from this build's {} (allowed: databases of the same version; open it "
           "with `laco sweep` of this build first)",
           in, version, results_schema_version());
  }
  // Into an existing database: one transaction, so a failure changes nothing.
  // Into a new or provably empty one: the merge is built under a temporary
  // name and put in place only when it succeeded, so a failure leaves OUT as
  // it was (absent, or the empty file) and no folder this command created.
  const bool absent = !fs::exists(out, ec);
  const bool fresh = absent || inspect_results_db(out) == 0;
  const fs::path folder = fs::path(out).parent_path();
  const MadeDirectories made(folder.string());
  const std::string target = fresh ? fmt::format("{}.merging-{}", out, ::getpid()) : out;
  auto remove_target = [&] {
    if (fresh) remove_database_files(target);
  };
  remove_target();
  MergeSummary summary;
  try {
    {
      sql::Connection db = open_results_db(target, true);
      Merger merger(db, out);
      sql::Transaction t(db);
      for (const auto& in : inputs) {
        sql::Connection src = open_results_db(in, false);
        merger.merge(src, in, summary);
      }
      merger.check_conflicts();
      t.commit();
    }  // closed: the WAL is checkpointed into the file
    if (fresh) {
      // link() never replaces a database another process created meanwhile;
      // rename() replaces the empty file we inspected.
      if (absent ? ::link(target.c_str(), out.c_str()) != 0 : std::rename(target.c_str(), out.c_str()) != 0)
        fail("{}: cannot put the merged database in place: {}{}", out, std::strerror(errno),
             errno == EEXIST ? " (another process created it meanwhile; merge again)" : "");
      remove_target();
    }
  } catch (...) {
    remove_target();
    made.undo();
    throw;
  }
  return summary;
}

}  // namespace laco
