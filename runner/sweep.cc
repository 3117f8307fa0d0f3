#include "runner/sweep.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <filesystem>
#include <new>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "evals/metrics.h"
#include "evals/registry.h"
#include "methods/registry.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/progress.h"
#include "harness/base/text.h"
#include "harness/print/number.h"
#include "harness/print/printer.h"
#include "runner/estimate.h"
#include "runner/power.h"
#include "results/responses.h"
#include "results/schema.h"

namespace laco {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> keys_of(const Sweep& sweep) {
  std::vector<std::string> keys;
  for (const auto& r : sweep.runs) keys.push_back(r.key);
  return keys;
}

// A result laco will not store: a non-finite figure (SQLite would keep NaN as NULL).
void check_finite(const RunRecord& r) {
  for (const auto& m : r.metrics)
    if (!std::isfinite(m.value)) fail("metric {} is {} ({})", m.name, m.value, m.unit);
}

// Records `keys` as failed with `error`. When that write fails too (a full
// disk refuses it as it refused the results), the claim is given back
// (pending) where the database still takes that, and `error` says what state
// the runs are left in; never an exception past the lifecycle, which would
// leave them `running` without a word.
void record_failure(ResultStore& store, const std::vector<std::string>& keys, std::string& error) {
  std::string first;
  try {
    store.record_failed(keys, error);
    return;
  } catch (const std::exception& e) {
    first = e.what();
  }
  // The write-ahead log is what grew: copied into the database and emptied,
  // it leaves room for a status change, which rewrites pages in place.
  try {
    store.db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const std::string noted =
        fmt::format("{} (recorded once the write-ahead log was checkpointed; the first attempt failed: {})", error, first);
    store.record_failed(keys, noted);
    error = noted;
    return;
  } catch (const std::exception&) {
  }
  error += fmt::format("; recording the failure failed too ({})", first);
  try {
    store.release(keys);
    error += ": the runs are pending again";
  } catch (const std::exception&) {
    error += ": the runs stay `running` under this process, which has ended, so the next sweep runs them again";
  }
}

// Fault injection for the tests of this lifecycle (tests/test_sweep.cc):
// LACO_FAULT_NAN_METRIC=NAME makes metric NAME of every record NaN, as a
// diverged loss or a zero-time division would, so that both commands that
// run through here show what becomes of such a run. Unset, nothing changes.
void inject_fault(RunRecord& r) {
  const char* name = std::getenv("LACO_FAULT_NAN_METRIC");
  if (!name || !*name) return;
  for (auto& m : r.metrics)
    if (m.name == name) m.value = std::nan("");
}

// "efficiency: 36 runs measured together (6 methods at 1/12, 1/6, 1/4, 1/2, 1; r = 2, 3, 4) seed=0".
std::string unit_label(const Sweep& sweep, const std::vector<size_t>& todo) {
  const auto& first = sweep.runs[todo.front()].spec;
  if (todo.size() == 1) return first.label();
  std::vector<std::string> methods, layers, ratios;
  auto add = [](std::vector<std::string>& to, const std::string& v) {
    if (std::find(to.begin(), to.end(), v) == to.end()) to.push_back(v);
  };
  for (size_t i : todo) {
    const auto& s = sweep.runs[i].spec;
    add(methods, s.method_label());
    if (is_reference_method(s.method)) continue;  // its placement and ratio say nothing
    add(layers, s.layer);
    add(ratios, std::to_string(s.ratio));
  }
  return fmt::format("{}: {} runs measured together ({} at {}; r = {}) seed={}", first.eval(), todo.size(),
                     methods.size() == 1 ? methods.front() : fmt::format("{} methods", methods.size()),
                     join(layers, ", "), join(ratios, ", "), first.seed);
}

std::vector<RunSpec> specs_of(const Sweep& sweep, const std::vector<size_t>& runs) {
  std::vector<RunSpec> specs;
  for (size_t i : runs) specs.push_back(sweep.runs[i].spec);
  return specs;
}

}  // namespace

std::string format_sweep_plan(const Sweep& sweep, const std::map<std::string, RunState>& states,
                              const std::string& db_note, const std::string& format,
                              const std::vector<std::string>& extra_notes, bool remeasure) {
  const auto printer = make_printer(format);
  std::map<std::string, size_t> per_eval;
  size_t groups = 0;
  for (const auto& r : sweep.runs) ++per_eval[r.eval()];
  for (const auto& u : sweep.units) groups += !u.group_key.empty();
  std::vector<std::string> parts;
  for (const auto& name : evaluation_names())
    if (per_eval[name] > 0) parts.push_back(fmt::format("{} {}", per_eval[name], name));
  PrintTable t;
  t.title = fmt::format("sweep {} ({}): {} runs: {} in {} measurement group{}", sweep.name, sweep.file,
                        sweep.runs.size(), join(parts), groups, groups == 1 ? "" : "s");
  if (!sweep.description.empty()) t.title += "\n  " + sweep.description;
  t.columns = {{"#"}, {"key"}, {"status"}, {"unit"}, {"run"}};
  std::map<std::string, size_t> count;
  int64_t n = 0;
  for (size_t u = 0; u < sweep.units.size(); ++u)
    for (size_t i : sweep.units[u].runs) {
      const auto& r = sweep.runs[i];
      auto it = states.find(r.key);
      std::string status = it == states.end() ? "new" : it->second.status;
      if (status == "running" && !held_by_live_process(it->second)) status = "stale";  // a killed run: redone
      if (status == "done" && held_by_live_process(it->second)) status = "remeasuring";  // by another process
      else if (status == "done" && claimable(it->second, false, remeasure)) status = "remeasure";
      ++count[status];
      t.add({++n, r.key, status, static_cast<int64_t>(u + 1), r.label()});
    }
  const size_t to_run = count["new"] + count["pending"] + count["stale"] + count["remeasure"];
  const size_t done = count["done"] + count["remeasure"] + count["remeasuring"];
  t.notes.push_back(fmt::format("{}: {} done, {} failed, {} running elsewhere, {} to run ({} new, {} pending, {} left by "
                                "a killed process{})",
                                db_note, done, count["failed"], count["running"], to_run, count["new"],
                                count["pending"], count["stale"],
                                remeasure ? fmt::format(", {} done to re-measure", count["remeasure"]) : ""));
  if (remeasure) {
    t.notes.push_back(fmt::format(
        "--remeasure: a done run not measured by this build ({}) is measured again; its current measurement moves "
        "to the archive (laco compare shows both){}",
        build_version(),
        count["done"] ? fmt::format("; {} done at this build's commit are kept as they are", count["done"]) : ""));
    if (build_dirty() != std::optional<bool>(false))
      t.notes.push_back("--remeasure: this build has uncommitted changes (or no known commit): every done run counts "
                        "as another build's, also after an interruption");
    if (count["remeasuring"])
      t.notes.push_back(fmt::format("{} done run(s) are being re-measured by another process", count["remeasuring"]));
  }
  for (const auto& note : sweep.notes) t.notes.push_back("note: " + note);
  t.notes.insert(t.notes.end(), extra_notes.begin(), extra_notes.end());
  return printer->print(t);
}

size_t SweepPlan::to_run() const {
  size_t n = 0;
  for (const auto& unit : todo) n += unit.size();
  return n;
}

SweepPlan plan_sweep(const Sweep& sweep, const std::map<std::string, RunState>& states, bool retry_failed,
                     bool remeasure) {
  SweepPlan plan;
  plan.todo.resize(sweep.units.size());
  for (size_t u = 0; u < sweep.units.size(); ++u)
    for (size_t i : sweep.units[u].runs) {
      auto it = states.find(sweep.runs[i].key);
      if (it == states.end() || claimable(it->second, retry_failed, remeasure)) {
        plan.todo[u].push_back(i);
        if (it != states.end() && it->second.status == "done") plan.remeasured.insert(sweep.runs[i].key);
      } else if (it->second.status == "done") {
        plan.done.push_back(i);
      } else if (it->second.status == "failed") {
        plan.failed_before.push_back(i);
      } else {
        plan.held.push_back(i);  // running in a live process
      }
    }
  return plan;
}

Execution execute_sweep(const Sweep& sweep, const std::vector<std::vector<size_t>>& todo_given, ResultStore* store,
                        const ExecuteOptions& options) {
  std::vector<std::vector<size_t>> todo = todo_given;
  Execution out;
  size_t to_run = 0;
  int64_t units = 0;
  for (const auto& unit : todo) {
    if (unit.empty()) continue;
    to_run += unit.size();
    units += evaluation_of(sweep.runs[unit.front()].spec).units(specs_of(sweep, unit));
  }
  size_t started = 0;
  std::map<std::string, std::string> lost_inputs;  // shared by the runs of this sweep (RunContext)
  Progress progress(options.progress_label, units);
  auto log = [&](const std::string& line) {
    if (options.log_runs) progress.print(line);
  };
  {
    std::vector<RunSpec> in_order;  // as they will run
    for (const auto& unit : todo)
      for (size_t i : unit) in_order.push_back(sweep.runs[i].spec);
    progress.expect_advances(expected_advances(in_order, options.cache_dir));
  }
  InterruptGuard guard;
  for (size_t u = 0; u < sweep.units.size() && u < todo.size() && !out.interrupted; ++u) {
    if (todo[u].empty()) continue;
    if (interrupt_signal() != 0) {  // e.g. during start-up: nothing is claimed yet
      out.interrupted = true;
      break;
    }
    std::vector<std::string> wanted;
    for (size_t i : todo[u]) wanted.push_back(sweep.runs[i].key);
    started += todo[u].size();
    // Atomic: a run another sweep on this database took (or finished) since
    // the states were read is left to it, and only what we hold is run.
    std::vector<std::string> keys = wanted;
    if (store) {
      try {
        keys = store->claim(wanted, sweep.units[u].group_key, options.retry_failed, options.remeasure);
      } catch (const Error& e) {
        // Nothing was claimed (one transaction); a database that cannot take a claim takes no result either.
        out.stopped = fmt::format("{}; stopped before run {}/{}, which was not claimed", e.what(),
                                  started - wanted.size() + 1, to_run);
        log("stopped " + out.stopped);
        break;
      }
    }
    std::vector<size_t> mine;
    for (size_t i : todo[u])
      if (std::find(keys.begin(), keys.end(), sweep.runs[i].key) != keys.end()) mine.push_back(i);
      else log(fmt::format("skipped {}  {}  (taken by another process)", sweep.runs[i].key,
                                      sweep.runs[i].label()));
    out.taken_elsewhere += todo[u].size() - mine.size();
    todo[u] = mine;
    if (mine.empty()) continue;
    const std::string label = unit_label(sweep, todo[u]);
    progress.set_context(fmt::format("run {}/{} {}", started - wanted.size() + 1, to_run, label));
    const auto unit_t0 = Clock::now();
    std::string error;
    try {
      const auto specs = specs_of(sweep, todo[u]);
      std::optional<StoreJournal> journal;  // benchmark runs commit each question as it finishes
      if (store) journal.emplace(store->db());
      std::vector<RunRecord> records = evaluation_of(specs.front()).run(
          specs, {&progress, options.cache_dir, &lost_inputs, journal ? &*journal : nullptr});
      if (records.size() != keys.size())
        fail("the evaluation returned {} records for {} runs", records.size(), keys.size());
      std::vector<std::pair<std::string, RunRecord>> results;
      for (size_t j = 0; j < records.size(); ++j) {
        inject_fault(records[j]);
        check_finite(records[j]);
        results.emplace_back(keys[j], std::move(records[j]));
      }
      // The log line of each run names its headline metrics (a Slurm log is then a first look at the results).
      std::vector<std::string> lines;
      for (const auto& [key, record] : results) {
        std::vector<std::string> parts;
        for (const auto& name : view_metrics(MetricView::kHeadline, record.eval()))
          for (const auto& m : record.metrics)
            if (m.name == name) parts.push_back(fmt::format("{} {} {}", m.name, format_number(m.value, m.unit), m.unit));
        lines.push_back(join(parts, ", "));
      }
      if (store) store->record_done(results);
      out.done += keys.size();
      for (const auto& key : keys) out.remeasured += options.remeasured.count(key);
      const double seconds = std::chrono::duration<double>(Clock::now() - unit_t0).count();
      for (size_t j = 0; j < todo[u].size(); ++j)
        log(fmt::format("done    {}  {}  ({}){}{}", sweep.runs[todo[u][j]].key, sweep.runs[todo[u][j]].label(),
                                   format_duration(seconds), lines[j].empty() ? "" : ": ", lines[j]));
      if (options.keep_records)
        for (size_t j = 0; j < todo[u].size(); ++j) out.records.emplace_back(todo[u][j], std::move(results[j].second));
    } catch (const Interrupted& e) {
      if (store) store->release(keys);
      for (size_t i : todo[u])
        log(fmt::format("stopped {}  {}  ({}; {})", sweep.runs[i].key, sweep.runs[i].label(), e.what(),
                                   options.remeasured.count(sweep.runs[i].key) ? "still done with its previous measurement"
                                                                               : store ? "marked pending" : "not stored"));
      out.interrupted = true;
      break;
    } catch (const Error& e) {
      error = e.what();
    } catch (const c10::Error& e) {
      error = std::string("torch: ") + e.what_without_backtrace();
    } catch (const std::bad_alloc&) {
      error = "out of memory (std::bad_alloc)";
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      if (keys.size() > 1) error = fmt::format("{} (the {} runs measured together failed together)", error, keys.size());
      if (store) record_failure(*store, keys, error);
      for (size_t i : todo[u]) {
        const std::string kept =
            options.remeasured.count(sweep.runs[i].key) ? " (a re-measurement: the previous measurement is kept)" : "";
        out.failed.emplace_back(sweep.runs[i].key + "  " + sweep.runs[i].label(), error + kept);
        log(fmt::format("failed  {}  {}: {}{}", sweep.runs[i].key, sweep.runs[i].label(), error, kept));
      }
    }
    if (interrupt_signal() != 0) out.interrupted = true;
  }
  progress.finish();
  if (interrupt_signal() != 0) out.interrupted = true;  // after the last run: still a stop to report
  return out;
}

int run_sweep(const Sweep& sweep, const SweepOptions& options) {
  if (options.dry_run) {
    std::map<std::string, RunState> states;
    std::vector<std::string> estimate;  // only where the database has runs to go by
    std::string note = fmt::format("database {}: does not exist yet", options.db);
    if (!std::filesystem::exists(options.db) || inspect_results_db(options.db) == 0) {
      if (std::filesystem::exists(options.db))
        note = fmt::format("database {}: empty (no laco schema yet; a sweep initialises it)", options.db);
      for (auto& line : claim_power_notes(sweep, nullptr)) estimate.push_back(std::move(line));
    } else {
      ResultStore store(options.db, false);
      states = store.states(keys_of(sweep));
      note = fmt::format("database {}", options.db);
      std::vector<size_t> to_run;
      for (const auto& unit : plan_sweep(sweep, states, options.retry_failed, options.remeasure).todo)
        to_run.insert(to_run.end(), unit.begin(), unit.end());
      estimate.push_back(estimate_duration(sweep, to_run, store.db(), options.cache_dir).describe());
      for (auto& line : claim_power_notes(sweep, &store.db())) estimate.push_back(std::move(line));
    }
    fmt::print("{}", format_sweep_plan(sweep, states, note, options.format, estimate, options.remeasure));
    return 0;
  }

  ResultStore store(options.db, true);
  std::vector<PlannedRun> planned;
  for (const auto& r : sweep.runs) planned.push_back(r.planned());
  store.register_runs(sweep.name, planned);
  const auto states = store.states(keys_of(sweep));

  const SweepPlan plan = plan_sweep(sweep, states, options.retry_failed, options.remeasure);
  const size_t skipped_done = plan.done.size(), failed_before = plan.failed_before.size(), held = plan.held.size(),
               to_run = plan.to_run();

  const auto t0 = Clock::now();
  ExecuteOptions execute;
  execute.cache_dir = options.cache_dir;
  execute.retry_failed = options.retry_failed;
  execute.remeasure = options.remeasure;
  execute.remeasured = plan.remeasured;
  const Execution ran = execute_sweep(sweep, plan.todo, &store, execute);
  const size_t done_now = ran.done, taken_elsewhere = ran.taken_elsewhere, remeasured_now = ran.remeasured;
  const auto& failed_now = ran.failed;
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const size_t left = to_run - done_now - failed_now.size() - taken_elsewhere;
  fmt::print("\nsweep {}: {} runs: {} done now, {} skipped (done before), {} failed now", sweep.name,
             sweep.runs.size(), done_now, skipped_done, failed_now.size());
  if (options.remeasure) fmt::print(", {} re-measured (the previous measurements archived)", remeasured_now);
  if (failed_before) fmt::print(", {} failed before (rerun with --retry-failed)", failed_before);
  if (held) fmt::print(", {} running in another process", held);
  if (taken_elsewhere) fmt::print(", {} taken by another process meanwhile", taken_elsewhere);
  if (left) fmt::print(", {} left", left);
  fmt::print("; {} wall; database {}\n", format_duration(wall), options.db);
  for (const auto& [label, error] : failed_now) fmt::print("  failed: {}: {}\n", label, error);
  if (!ran.stopped.empty()) {
    fmt::print("stopped: {}\n", ran.stopped);
    return 1;
  }
  if (ran.interrupted) {
    fmt::print("interrupted: run the same command again to continue\n");
    return 130;
  }
  return failed_now.empty() && failed_before == 0 ? 0 : 1;
}

}  // namespace laco
