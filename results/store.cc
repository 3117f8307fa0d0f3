#include "results/store.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "results/measurements.h"
#include "results/responses.h"
#include "results/schema.h"

namespace laco {

namespace {

// A process killed but not yet reaped by its parent (a zombie) still answers
// kill(pid, 0); it runs nothing and holds nothing.
bool zombie(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

}  // namespace

bool held_by_live_process(const RunState& s) {
  if (s.status != "running" && s.status != "done") return false;
  if (s.worker_pid <= 0 || s.worker_host != this_host()) return false;
  if (s.worker_pid == static_cast<int64_t>(getpid())) return false;
  if (kill(static_cast<pid_t>(s.worker_pid), 0) != 0 && errno != EPERM) return false;
  return !zombie(s.worker_pid);
}

bool measured_by_this_build(const RunState& s) {
  return s.status == "done" && s.git_commit == build_commit() && s.git_dirty == std::optional<bool>(false) &&
         build_dirty() == std::optional<bool>(false);
}

bool claimable(const RunState& s, bool retry_failed, bool remeasure) {
  return s.status == "pending" || (s.status == "failed" && retry_failed) ||
         (s.status == "running" && !held_by_live_process(s)) ||
         (s.status == "done" && remeasure && !measured_by_this_build(s) && !held_by_live_process(s));
}

ResultStore::ResultStore(const std::string& path, bool writable) : db_(open_results_db(path, writable)) {}

void ResultStore::register_runs(const std::string& sweep, const std::vector<PlannedRun>& runs) {
  sql::Transaction t(db_);
  auto insert = db_.prepare(
      "INSERT INTO runs (key, eval, status, config, preset, method, method_options, layer, block_k, depth, ratio, seed,"
      " created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (key) DO NOTHING");
  auto member = db_.prepare("INSERT OR IGNORE INTO sweep_runs (sweep, grid, run_key) VALUES (?, ?, ?)");
  const std::string now = utc_now();
  for (const auto& r : runs) {
    const auto& s = r.spec;
    insert.bind(1, r.key)
        .bind(2, s.eval())
        .bind(3, to_json(s).dump())
        .bind(4, s.preset)
        .bind(5, s.method)
        .bind(6, nlohmann::json(s.method_options).dump())
        .bind(7, s.layer)
        .bind(8, s.block_k)
        .bind(9, s.depth)
        .bind(10, s.ratio)
        .bind(11, static_cast<int64_t>(s.seed))
        .bind(12, now)
        .bind(13, now);
    insert.run();
    insert.reset();
    for (const auto& grid : r.grids) {
      member.bind(1, sweep).bind(2, grid).bind(3, r.key).run();
      member.reset();
    }
  }
  t.commit();
}

std::map<std::string, RunState> ResultStore::states(const std::vector<std::string>& keys) {
  std::map<std::string, RunState> out;
  auto q = db_.prepare(
      "SELECT status, error, attempts, worker_host, worker_pid, git_commit, git_dirty FROM runs WHERE key = ?");
  for (const auto& key : keys) {
    q.bind(1, key);
    if (q.step()) {
      RunState s;
      s.status = q.text(0);
      s.error = q.text(1);
      s.attempts = q.int64(2);
      s.worker_host = q.text(3);
      s.worker_pid = q.is_null(4) ? 0 : q.int64(4);
      s.git_commit = q.text(5);
      if (!q.is_null(6)) s.git_dirty = q.int64(6) != 0;
      out[key] = s;
    }
    q.reset();
  }
  return out;
}

std::vector<std::string> ResultStore::claim(const std::vector<std::string>& keys, const std::string& group_key,
                                            bool retry_failed, bool remeasure) {
  sql::Transaction t(db_);  // the write lock: no other process reads a state between ours and our update
  std::vector<std::string> claimed;
  const auto now_states = states(keys);
  // A done run keeps its status, error and measurement while it is measured again.
  auto update = db_.prepare(
      "UPDATE runs SET status = CASE WHEN status = 'done' THEN 'done' ELSE 'running' END,"
      " error = CASE WHEN status = 'done' THEN error END, attempts = attempts + 1, worker_host = ?, worker_pid = ?,"
      " group_key = ?, updated_at = ? WHERE key = ?");
  for (const auto& key : keys) {
    auto it = now_states.find(key);
    if (it == now_states.end()) fail("{}: run {} is not registered", path(), key);
    if (!claimable(it->second, retry_failed, remeasure)) continue;
    update.bind(1, this_host()).bind(2, static_cast<int64_t>(getpid())).bind(3, group_key).bind(4, utc_now()).bind(5, key);
    update.run();
    update.reset();
    claimed.push_back(key);
  }
  t.commit();
  return claimed;
}

void ResultStore::record_done(const std::vector<std::pair<std::string, RunRecord>>& results) {
  sql::Transaction t(db_);
  auto held = db_.prepare("SELECT status, worker_host, worker_pid FROM runs WHERE key = ?");
  auto update = db_.prepare(
      "UPDATE runs SET status = 'done', error = NULL, extra = ?, worker_host = NULL, worker_pid = NULL,"
      " git_commit = ?, git_dirty = ?, host = ?, device = ?, torch_version = ?, threads = ?, attention = ?,"
      " started_at = ?, finished_at = ?, wall_seconds = ?, updated_at = ? WHERE key = ?");
  std::vector<sql::Statement> clear;  // a previous result's rows, in every table that hangs off a run
  for (const auto& table : run_child_tables())
    clear.push_back(db_.prepare(fmt::format("DELETE FROM {} WHERE run_key = ?", table)));
  auto metric = db_.prepare("INSERT INTO metrics (run_key, name, value, unit) VALUES (?, ?, ?, ?)");
  auto point = db_.prepare("INSERT INTO series (run_key, name, step, value) VALUES (?, ?, ?, ?)");
  auto sample = db_.prepare("INSERT INTO samples (run_key, metric, rep, value) VALUES (?, ?, ?, ?)");
  auto prediction = db_.prepare(
      "INSERT INTO predictions (run_key, question, id, family, answer, predicted, correct) VALUES (?, ?, ?, ?, ?, ?, ?)");
  auto unjournal = db_.prepare("DELETE FROM response_journal WHERE run_key = ?");
  for (const auto& [key, rec] : results) {
    held.bind(1, key);
    if (!held.step()) fail("{}: run {} is not registered", path(), key);
    const bool was_done = held.text(0) == "done";
    const bool ours = (held.text(0) == "running" || was_done) && held.text(1) == this_host() && !held.is_null(2) &&
                      held.int64(2) == static_cast<int64_t>(getpid());
    held.reset();
    // A result is recorded only by the process that holds the claim.
    if (!ours) fail("{}: run {} is not held by this process; its result is not recorded", path(), key);
    // A re-measurement: the measurement it supersedes goes to the archive, whole.
    if (was_done) archive_measurement(db_, key, current_measurement(db_, key));
    const auto& p = rec.provenance;
    update.bind(1, rec.facts.dump())
        .bind(2, p.git_commit)
        .bind(3, p.git_dirty ? sql::Value(static_cast<int64_t>(*p.git_dirty)) : sql::Value())
        .bind(4, p.host)
        .bind(5, p.device)
        .bind(6, p.torch_version)
        .bind(7, p.threads)
        .bind(8, p.attention)
        .bind(9, p.started_at)
        .bind(10, p.finished_at)
        .bind(11, p.wall_seconds)
        .bind(12, utc_now())
        .bind(13, key);
    update.run();
    update.reset();
    for (auto& c : clear) {
      c.bind(1, key).run();
      c.reset();
    }
    for (const auto& m : rec.metrics) {
      // SQLite would store NaN as NULL without a word; a run with a
      // non-finite figure is a failed run, decided before this point.
      if (!std::isfinite(m.value)) fail("{}: run {}: metric {} is {}", path(), key, m.name, m.value);
      metric.bind(1, key).bind(2, m.name).bind(3, m.value).bind(4, m.unit).run();
      metric.reset();
    }
    for (const auto& [name, points] : rec.series)
      for (const auto& [step, value] : points) {
        point.bind(1, key).bind(2, name).bind(3, step).bind(4, std::isfinite(value) ? sql::Value(value) : sql::Value());
        point.run();
        point.reset();
      }
    for (const auto& [name, values] : rec.samples)
      for (size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) fail("{}: run {}: sample {} of {} is {}", path(), key, i, name, values[i]);
        sample.bind(1, key).bind(2, name).bind(3, static_cast<int64_t>(i)).bind(4, values[i]).run();
        sample.reset();
      }
    for (size_t i = 0; i < rec.predictions.size(); ++i) {
      const auto& q = rec.predictions[i];
      prediction.bind(1, key).bind(2, static_cast<int64_t>(i)).bind(3, q.id).bind(4, q.family).bind(5, q.answer);
      prediction.bind(6, q.predicted).bind(7, static_cast<int64_t>(q.correct)).run();
      prediction.reset();
    }
    insert_responses(db_, key, rec.responses);
    // Its questions are in `responses` now: the journal of its attempts is done with.
    unjournal.bind(1, key).run();
    unjournal.reset();
  }
  t.commit();
}

void ResultStore::record_failed(const std::vector<std::string>& keys, const std::string& error) {
  sql::Transaction t(db_);
  auto update = db_.prepare(
      "UPDATE runs SET status = 'failed', error = ?, worker_host = NULL, worker_pid = NULL, finished_at = ?,"
      " updated_at = ? WHERE key = ? AND status = 'running' AND worker_host = ? AND worker_pid = ?");
  // A failed re-measurement: the run stays done with the measurement it had (its finished_at included).
  auto remeasure = db_.prepare(
      "UPDATE runs SET error = ?, worker_host = NULL, worker_pid = NULL, updated_at = ?"
      " WHERE key = ? AND status = 'done' AND worker_host = ? AND worker_pid = ?");
  const std::string kept = "re-measurement failed; the previous measurement is kept: " + error;
  for (const auto& key : keys) {
    const std::string now = utc_now();
    update.bind(1, error).bind(2, now).bind(3, now).bind(4, key).bind(5, this_host()).bind(6, static_cast<int64_t>(getpid()));
    update.run();
    update.reset();
    remeasure.bind(1, kept).bind(2, now).bind(3, key).bind(4, this_host()).bind(5, static_cast<int64_t>(getpid()));
    remeasure.run();
    remeasure.reset();
  }
  t.commit();
}

void ResultStore::release(const std::vector<std::string>& keys) {
  sql::Transaction t(db_);
  // An interrupted re-measurement: the done run is as it was, its claim dropped.
  auto update = db_.prepare(
      "UPDATE runs SET status = CASE WHEN status = 'done' THEN 'done' ELSE 'pending' END, worker_host = NULL,"
      " worker_pid = NULL, updated_at = ? WHERE key = ? AND status IN ('running', 'done') AND worker_host = ?"
      " AND worker_pid = ?");
  for (const auto& key : keys) {
    update.bind(1, utc_now()).bind(2, key).bind(3, this_host()).bind(4, static_cast<int64_t>(getpid())).run();
    update.reset();
  }
  t.commit();
}

}  // namespace laco
