#include "cli/results.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>

#include "harness/base/error.h"
#include "harness/base/limits.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/print/printer.h"
#include "results/merge.h"

namespace laco {
namespace {

std::string this_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("cannot find the laco binary (/proc/self/exe: {})", ec.message());
  return path.string();
}

}  // namespace

ResultsCli::ResultsCli(CLI::App& app) {
  sweep_cmd_ = app.add_subcommand("sweep", "Run every configuration of a sweep spec not yet done in the results database");
  sweep_cmd_->add_option("SPEC", spec_, "Sweep spec (sweeps/*.json)")->required();
  sweep_cmd_->add_option("--db", sweep_options_.db, "Results database")->capture_default_str();
  sweep_cmd_->add_flag("--dry-run", sweep_options_.dry_run, "List the runs and how many are done; run nothing");
  sweep_cmd_->add_flag("--retry-failed", sweep_options_.retry_failed, "Rerun runs recorded as failed");
  sweep_cmd_->add_flag("--remeasure", sweep_options_.remeasure,
                       "Measure done runs again unless this build measured them; the old measurement is archived");
  sweep_cmd_->add_option("--shard", shard_, "Run shard i of n (1-based), e.g. 2/4");
  sweep_cmd_->add_option("-t,--threads", overrides_.threads, "Threads per run (default: the spec's, else 2)")
      ->check(CLI::Range(1, kMaxThreads));
  sweep_cmd_->add_option("--evals", evals_,
                         "Comma-separated evaluations of the spec to run (default: all), e.g. efficiency first on a "
                         "quiet machine, then accuracy in two processes");
  sweep_cmd_->add_option("--max-runs", overrides_.max_runs,
                         "The most runs the spec may expand to (default: the sweep-runs limit, laco limits)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  sweep_cmd_->add_option("--cache-dir", sweep_options_.cache_dir, "Where stage-0 models are cached")->capture_default_str();
  sweep_cmd_->add_option("-o,--format", sweep_options_.format, "--dry-run listing: " + join(printer_formats()))
      ->capture_default_str();

  merge_cmd_ = app.add_subcommand("merge", "Combine results databases (e.g. shards) into OUT");
  merge_cmd_->add_option("OUT", merge_out_, "Output database (created when absent)")->required();
  merge_cmd_->add_option("IN", merge_inputs_, "Input databases")->required();

  slurm_cmd_ = app.add_subcommand("slurm", "Print a Slurm job-array script that runs a sweep in shards, then merges them");
  slurm_cmd_->add_option("SPEC", slurm_.spec, "Sweep spec")->required();
  slurm_cmd_->add_option("--shards", slurm_.shards, "Array tasks, one shard each")->required();
  slurm_cmd_->add_option("--out", slurm_.out, "Shared folder for shards, logs, cache, merged laco.db (default: results/slurm-NAME)");
  slurm_cmd_->add_option("-t,--threads", slurm_.threads, "CPUs per task and laco --threads")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxThreads));
  slurm_cmd_->add_option("--time", slurm_.time, "Time limit per task (#SBATCH --time), e.g. 04:00:00");
  slurm_cmd_->add_option("--partition", slurm_.partition, "Slurm partition");

  query_cmd_ = app.add_subcommand("query", "Runs and their metrics from the results database");
  query_cmd_->add_option("--db", query_.db, "Results database")->capture_default_str();
  query_cmd_->add_option("--where", query_.where, "KEY=VALUE filter (repeatable; same key: OR, different keys: AND)");
  query_cmd_->add_option("--metrics", metrics_, "Comma-separated metric columns, or all (default: the common ones)");
  query_cmd_->add_option("--sql", query_.sql, "One SQL statement, run on a read-only connection");
  query_cmd_->add_option("-o,--format", format_, join(printer_formats()))->capture_default_str();

  compare_cmd_ = app.add_subcommand("compare", "Each run's two measurements (two commits) side by side: values, ratio, "
                                               "significance");
  compare_cmd_->add_option("--db", compare_.db, "Results database")->capture_default_str();
  compare_cmd_->add_option("--where", compare_.where,
                           "KEY=VALUE filter, as in `laco query` (repeatable; same key: OR, different keys: AND)");
  compare_cmd_->add_option("--metrics", compare_metrics_,
                           "Comma-separated metrics, or all (default: each evaluation's headline metrics)");
  compare_cmd_->add_option("--base", compare_.base,
                           "Commit (prefix) of the base measurement (default: the newest at another commit than new's)");
  compare_cmd_->add_option("--new", compare_.new_, "Commit (prefix) of the new measurement (default: the current one)");
  compare_cmd_->add_option("-o,--format", compare_format_, join(printer_formats()))->capture_default_str();
}

std::optional<int> ResultsCli::run() {
  if (*sweep_cmd_) {
    check_printer_format(sweep_options_.format);
    overrides_.evals = list_items(evals_, "--evals");
    const Sweep full = load_sweep(spec_, overrides_);
    if (shard_.empty()) return run_sweep(full, sweep_options_);
    const auto [i, n] = parse_shard(shard_);
    return run_sweep(shard_sweep(full, i, n), sweep_options_);
  }
  if (*merge_cmd_) {
    const auto s = merge_results(merge_out_, merge_inputs_);
    fmt::print("merged {} database(s) into {}: {} runs added, {} replaced a run not done, {} identical (kept once), "
               "{} measured differently in two places (both kept: the newer current, the older archived), {} "
               "archived measurement(s) carried over, {} not done in the input (OUT's kept)\n",
               merge_inputs_.size(), merge_out_, s.added, s.replaced, s.identical, s.both, s.archived, s.kept);
    return 0;
  }
  if (*slurm_cmd_) {
    SweepOverrides o;
    o.threads = slurm_.threads;
    const Sweep sweep = load_sweep(slurm_.spec, o);
    if (slurm_.out.empty()) slurm_.out = "results/slurm-" + sweep.name;
    slurm_.laco = this_executable();
    fmt::print("{}", slurm_script(sweep, slurm_));
    return 0;
  }
  if (*query_cmd_) {
    const auto printer = make_printer(format_);
    query_.metrics = list_items(metrics_, "--metrics");
    std::vector<std::string> warnings;
    const PrintTable table = run_query(query_, &warnings);
    for (const auto& w : warnings) fmt::print(stderr, "laco: warning: {}\n", w);
    fmt::print("{}", printer->print(table));
    return 0;
  }
  if (*compare_cmd_) {
    const auto printer = make_printer(compare_format_);
    compare_.metrics = list_items(compare_metrics_, "--metrics");
    std::vector<std::string> warnings;
    const Comparison comparison = compare_measurements(compare_, &warnings);
    for (const auto& w : warnings) fmt::print(stderr, "laco: warning: {}\n", w);
    fmt::print("{}", printer->print(comparison_table(comparison, data_format(compare_format_))));
    return 0;
  }
  return std::nullopt;
}

}  // namespace laco
