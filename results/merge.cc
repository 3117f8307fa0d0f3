#include "results/merge.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/text.h"
#include "results/schema.h"
#include "results/sqlite.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

using Metrics = std::map<std::string, std::pair<sql::Value, std::string>>;

Metrics read_metrics(sql::Connection& db, const std::string& key) {
  Metrics out;
  auto q = db.prepare("SELECT name, value, unit FROM metrics WHERE run_key = ?");
  q.bind(1, key);
  while (q.step()) out[q.text(0)] = {q.value(1), q.text(2)};
  return out;
}

// The first difference between two metric sets, for the conflict message.
std::string first_difference(const Metrics& a, const Metrics& b) {
  for (const auto& [name, va] : a) {
    auto it = b.find(name);
    if (it == b.end()) return fmt::format("metric {} only in one of them", name);
    if (va != it->second)
      return fmt::format("{} = {} {} vs {} {}", name, sql::to_text(va.first), va.second, sql::to_text(it->second.first),
                         it->second.second);
  }
  for (const auto& [name, vb] : b)
    if (!a.count(name)) return fmt::format("metric {} only in one of them", name);
  return "same metrics";
}

class Merger {
 public:
  Merger(sql::Connection& out, const std::string& out_path) : out_(out), out_path_(out_path) {
    auto info = out_.prepare("SELECT name FROM pragma_table_info('runs') ORDER BY cid");
    while (info.step()) columns_.push_back(info.text(0));
    auto keys = out_.prepare("SELECT key FROM runs WHERE status = 'done'");
    while (keys.step()) source_[keys.text(0)] = out_path + " (before the merge)";
  }

  void merge(sql::Connection& in, const std::string& in_path, MergeSummary& summary) {
    auto rows = in.prepare(fmt::format("SELECT {} FROM runs ORDER BY key", join(columns_)));
    const int status_col = column("status"), key_col = column("key");
    while (rows.step()) {
      const std::string key = rows.text(key_col), status = rows.text(status_col);
      std::optional<std::string> out_status;
      auto existing = out_.prepare("SELECT status FROM runs WHERE key = ?");
      existing.bind(1, key);
      if (existing.step()) out_status = existing.text(0);
      if (!out_status) {
        insert_run(rows, in, key);
        ++summary.added;
      } else if (status == "done" && *out_status == "done") {
        const auto a = read_metrics(out_, key), b = read_metrics(in, key);
        if (a == b) {
          ++summary.identical;
        } else {
          conflicts_.push_back(fmt::format("run {} ({} {} {} r={} seed={}): {} in {} vs {}", key, rows.text(column("eval")),
                                           rows.text(column("method")), rows.text(column("layer")),
                                           rows.text(column("ratio")), rows.text(column("seed")), first_difference(a, b),
                                           source_[key], in_path));
        }
      } else if (status == "done") {
        for (const auto& child : run_child_tables())
          out_.prepare(fmt::format("DELETE FROM {} WHERE run_key = ?", child)).bind(1, key).run();
        std::vector<std::string> sets;
        for (const auto& c : columns_)
          if (c != "key") sets.push_back(c + " = ?");
        auto update = out_.prepare(fmt::format("UPDATE runs SET {} WHERE key = ?", join(sets)));
        int p = 1;
        for (size_t c = 0; c < columns_.size(); ++c)
          if (columns_[c] != "key") update.bind(p++, rows.value(static_cast<int>(c)));
        update.bind(p, key).run();
        copy_children(in, key);
        ++summary.replaced;
      } else {
        ++summary.kept;
      }
      if (status == "done" && !source_.count(key)) source_[key] = in_path;
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
    fail("{}: {} run(s) done in two places with different results; nothing was merged:{}\n"
         "(allowed: inputs whose shared runs agree; keep one copy, e.g. sqlite3 IN \"DELETE FROM runs WHERE key = "
         "'KEY'\")",
         out_path_, conflicts_.size(), list);
  }

 private:
  int column(const std::string& name) const {
    for (size_t i = 0; i < columns_.size(); ++i)
      if (columns_[i] == name) return static_cast<int>(i);
    fail("{}: runs table has no column {}", out_path_, name);
  }

  void insert_run(sql::Statement& row, sql::Connection& in, const std::string& key) {
    std::vector<std::string> marks(columns_.size(), "?");
    auto insert = out_.prepare(fmt::format("INSERT INTO runs ({}) VALUES ({})", join(columns_), join(marks)));
    for (size_t c = 0; c < columns_.size(); ++c) insert.bind(static_cast<int>(c + 1), row.value(static_cast<int>(c)));
    insert.run();
    copy_children(in, key);
  }

  // Every row of every table that hangs off a run, copied column for column.
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
  std::map<std::string, std::string> source_;  // done run -> where its result came from
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
