#include "cli/run.h"

#include <algorithm>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "evals/efficiency.h"
#include "evals/metrics.h"
#include "evals/registry.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/json_check.h"
#include "harness/base/progress.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/compressor.h"
#include "harness/model/placement.h"
#include "harness/print/printer.h"
#include "methods/registry.h"
#include "results/measurements.h"
#include "results/store.h"
#include "runner/sweep.h"
#include "runner/sweep_spec.h"

namespace laco {
MethodOptions parse_method_options(const std::vector<std::string>& items) {
  MethodOptions out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail("--option: '{}' must be KEY=VALUE (e.g. zero_init=true)", item);
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

void RunCli::attach(CLI::App& app, const std::string& eval) {
  if (eval.empty()) {
    command_ = app.add_subcommand("run", "Measure one configuration (or a small grid of them)");
    command_->add_option("--eval", eval_, "Evaluation: " + join(evaluation_names()))->capture_default_str();
  } else {
    eval_ = eval;
    command_ = app.add_subcommand("train", fmt::format("Fine-tune a released LLaVA-OneVision checkpoint with a method "
                                                      "inside, saved in the Hugging Face layout (laco run --eval {})",
                                                      eval));
  }
  std::string presets;
  for (const auto& e : evaluation_registry()) presets += fmt::format("{}{} {}", presets.empty() ? "" : "; ", e.name, join(e.presets));
  command_->add_option("--preset", preset_, "Preset (laco presets; default: the evaluation's): " + presets);
  command_->add_option("--model", model_,
                       "A checkpoint folder in the Hugging Face layout (config.json + model.safetensors or shards): "
                       "SigLIP, Qwen2 or LLaVA-OneVision; the model takes its parts, shapes and weights, the preset "
                       "the rest (accuracy: no stage 0)");
  command_->add_option("-m,--method", methods_, "Method(s), comma-separated, or all")->capture_default_str();
  command_->add_option("-l,--layer", layers_,
                       "Placement(s): " + join(standard_placements()) + " (" + kAfterEncoder + ": after the encoder), 0.25, block:K")
      ->capture_default_str();
  command_->add_option("-r,--ratio", ratios_, "Merge factor(s) r in " + supported_ratios_text())->capture_default_str();
  command_->add_option("--option", options_, "Method option KEY=VALUE (repeatable), e.g. zero_init=true");
  command_->add_option("--grid-policy", grid_policy_, "pad, interpolate or error")->capture_default_str();
  command_->add_option("--init", init_,
                       "Method weights: reference (each as its reference), or one scheme for all: trunc_normal, "
                       "torch_default")
      ->capture_default_str();
  command_->add_option("--projector", projector_,
                       "After the encoder: reference (pixel_shuffle, ldpv2, tokenpacker are the projector and map to "
                       "the LM width) or mlp2x_gelu (every method keeps the encoder width, mlp2x_gelu follows)")
      ->capture_default_str();
  command_->add_option("-t,--threads", threads_, "Threads (LibTorch intra-op and OpenBLAS)")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxThreads));
  command_->add_option("--seed", seed_, "Random seed")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, static_cast<uint64_t>(kMaxSeed)));
  command_->add_option("-o,--format", format_, join(printer_formats(), ", "))->capture_default_str();
  command_->add_option("--cache-dir", cache_dir_, "accuracy: where stage-0 models are cached")->capture_default_str();
  command_->add_option("--db", db_,
                       "Also store the runs in this results database (sweep name laco-run), as `laco sweep` does");
  command_->add_flag("--remeasure", remeasure_,
                     "With --db: measure configurations done there again (unless this build measured them); the old "
                     "measurement is archived");
  command_->add_flag("--allow-untrained", allow_untrained_,
                     "benchmark: run a method whose weights must be trained untrained inside a released model (an "
                     "ablation; otherwise refused: fine-tune it first with laco train)");
  command_->add_flag("--vs-external", vs_external_,
                     "efficiency: also run each method after the encoder and print measured vs FLOP-model speedups");
  // Every evaluation's own settings (evals/settings.h), named as in a sweep spec's section.
  for (const auto& e : evaluation_registry())
    for (const auto& setting : e.settings) {
      if (!eval.empty() && e.name != eval) continue;
      if (settings_.count(setting.key)) continue;
      auto& slot = settings_[setting.key];
      std::string names = setting.flag();
      if (setting.key == "batch") names = "-b," + names;
      const bool says_default = setting.help.find("default") != std::string::npos;
      slot.first = command_->add_option(names, slot.second,
                                        e.name + ": " + setting.help + (says_default ? "" : " (default: the preset's)"));
    }
}

bool RunCli::chosen() const { return command_ && command_->parsed(); }

int RunCli::run() const {
  const EvaluationInfo& info = find_evaluation(eval_);
  check_printer_format(format_);
  auto methods = list_items(methods_, "--method");
  if (methods.size() == 1 && methods[0] == "all") methods = method_names();
  const auto layers = list_items(layers_, "--layer");
  std::vector<int64_t> ratios;
  for (const auto& r : list_items(ratios_, "--ratio")) {
    auto v = parse_int(r);
    if (!v) fail("--ratio: '{}' is not an integer (allowed: {})", r, supported_ratios_text());
    check_ratio(*v, "--ratio");
    ratios.push_back(*v);
  }
  if (methods.empty() || layers.empty() || ratios.empty()) fail("--method, --layer and --ratio need a value each");
  if (vs_external_ && info.name != "efficiency") fail("--vs-external: only for --eval efficiency");
  if (remeasure_ && db_.empty()) fail("--remeasure: only with --db FILE (it measures runs done there again)");

  // The evaluation's settings from the flags given; a flag of another evaluation is an error.
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& [key, slot] : settings_) {
    if (slot.first->count() == 0) continue;
    auto own = std::find_if(info.settings.begin(), info.settings.end(), [&](const SettingInfo& s) { return s.key == key; });
    if (own == info.settings.end()) {
      std::vector<std::string> flags;
      for (const auto& s : info.settings) flags.push_back(s.flag());
      fail("{}: not a setting of --eval {} (allowed: {})", setting_flag(key), info.name, join(flags));
    }
    settings[key] = setting_from_flag(*own, slot.second);
  }
  // The checks a spec's section gets (ranges, names), with errors naming the flag.
  settings = parse_settings(JsonChecker::for_flags(), info.settings, settings, "$");

  // A one-grid sweep: the flags build its definition, and the runner's
  // expansion (placements checked against the preset, `none` and methods
  // inside the LM placed once, duplicates run once, interleaved groups) and
  // lifecycle (claim, record done or failed, non-finite metrics refused)
  // are the sweep's own.
  SweepDefinition definition;
  definition.file = "laco run";
  definition.name = "laco-run";
  definition.threads = threads_;
  definition.grid_policy = parse_grid_policy(grid_policy_, "--grid-policy");
  definition.evals = {info.name};
  SweepSection section;
  section.info = &info;
  section.preset = preset_.empty() ? info.default_preset : preset_;
  if (std::find(info.presets.begin(), info.presets.end(), section.preset) == info.presets.end())
    fail("--preset: unknown {} preset '{}' (allowed: {})", info.name, section.preset, join(info.presets));
  section.model = model_;
  section.seeds = {seed_};
  section.settings = settings;
  section.allow_untrained = allow_untrained_;
  definition.sections[info.name] = section;
  SweepGrid grid;
  grid.name = "run";
  grid.path = "laco run";
  parse_init_scheme(init_, "--init");
  check_projector_choice(projector_, "--projector");
  grid.init = init_;
  grid.projector = projector_;
  const MethodOptions options = parse_method_options(options_);
  for (const auto& m : methods) {
    find_method(m);  // an unknown name: an Error listing the methods
    grid.methods.push_back({m, options, "--method " + m});
  }
  for (const auto& l : layers) {
    grid.placements.push_back(l);
    grid.placement_paths.push_back("--layer " + l);
  }
  // --vs-external: each method and ratio also after the encoder.
  if (vs_external_ && std::find(layers.begin(), layers.end(), kAfterEncoder) == layers.end()) {
    grid.placements.push_back(kAfterEncoder);
    grid.placement_paths.push_back("--vs-external");
  }
  grid.ratios = ratios;
  grid.evals = {info.name};
  definition.grids = {grid};
  const Sweep sweep = expand_sweep(definition);
  for (const auto& note : sweep.notes) fmt::print(stderr, "laco run: note: {}\n", note);

  // With --db it resumes as a sweep does: a configuration done there already
  // is not measured again (its stored measurement is shown), unless
  // --remeasure asks for a new one at this build; one that failed, or that a
  // killed process left running, is run again; one another live process is
  // measuring is refused before anything runs.
  std::optional<ResultStore> store;
  std::map<std::string, RunState> states;  // none without a database: every run is to run
  if (!db_.empty()) {
    store.emplace(db_, true);
    std::vector<std::string> keys;
    for (const auto& r : sweep.runs) keys.push_back(r.key);
    states = store->states(keys);
  }
  const SweepPlan plan = plan_sweep(sweep, states, true, remeasure_);
  if (!plan.held.empty())
    fail("{}: run {} is being measured by another process there (allowed: configurations no other process holds)", db_,
         sweep.runs[plan.held.front()].key);
  if (store) {
    std::vector<PlannedRun> planned;
    for (const auto& r : sweep.runs) planned.push_back(r.planned());
    store->register_runs(sweep.name, planned);
  }
  ExecuteOptions execute;
  execute.progress_label = info.name;
  execute.cache_dir = cache_dir_;
  execute.retry_failed = true;
  execute.remeasure = remeasure_;
  execute.remeasured = plan.remeasured;
  execute.keep_records = true;
  execute.log_runs = false;  // its stdout is the records' table; failures are said below
  Execution ran = execute_sweep(sweep, plan.todo, store ? &*store : nullptr, execute);
  if (store) fmt::print(stderr, "laco: stored {} run(s) in {} (sweep laco-run)\n", ran.done, db_);
  if (ran.interrupted) {
    fmt::print(stderr, "laco run: interrupted{}\n", store ? ": the runs not done are pending; run the same command again" : "");
    return 130;
  }
  if (!ran.stopped.empty()) fail("{}", ran.stopped);
  if (!ran.failed.empty()) {
    for (const auto& [label, error] : ran.failed) fmt::print(stderr, "laco run: failed: {}: {}\n", label, error);
    fail("{} of {} run(s) failed{} (first: {})", ran.failed.size(), sweep.runs.size(),
         store ? fmt::format(", recorded as failed in {}", db_) : std::string(), ran.failed.front().second);
  }
  // In the sweep's order: the runs measured now, and those done before as the database holds them.
  std::map<size_t, RunRecord> by_index;
  for (auto& [index, record] : ran.records) by_index.emplace(index, std::move(record));
  if (!plan.done.empty()) {
    for (size_t i : plan.done) {
      const auto& run = sweep.runs[i];
      by_index.emplace(i, measurement_record(current_measurement(store->db(), run.key), run.spec,
                                             fmt::format("{}: run {}", db_, run.key)));
    }
    fmt::print(stderr,
               "laco run: {} of {} run(s) were done in {} already and are shown as stored, not measured again "
               "(allowed: --remeasure to measure them again at this build{})\n",
               plan.done.size(), sweep.runs.size(), db_,
               remeasure_ ? "; these were measured by this build already: commit a change, or build with "
                            "uncommitted changes"
                          : "");
  }
  std::vector<RunRecord> records;
  for (auto& [index, record] : by_index) records.push_back(std::move(record));
  // Each internal placement against the same method, options and ratio after the encoder, measured together.
  std::vector<std::pair<size_t, size_t>> pairs;  // (internal, external) record indices
  if (vs_external_)
    for (size_t i = 0; i < records.size(); ++i)
      for (size_t j = 0; j < records.size(); ++j) {
        const auto &in = records[i].spec, &ext = records[j].spec;
        if (!in.external() && ext.external() && in.method_label() == ext.method_label() && in.ratio == ext.ratio &&
            info.group(in) == info.group(ext))
          pairs.emplace_back(i, j);
      }

  if (format_ == "json") {
    fmt::print("{}\n", to_json(records).dump(2));
    return 0;
  }
  const auto printer = make_printer(format_);
  // The registry's run-table view; efficiency runs that measured generation add its figures for their token counts.
  std::vector<int64_t> gen_tokens;
  if (!records.empty() && records.front().spec.is_efficiency()) gen_tokens = records.front().spec.efficiency().gen_tokens;
  if (format_ == "table")
    for (const auto& r : records) fmt::print("{}\n", format_record(r));
  fmt::print("{}", printer->print(records_table(records, {"method", "layer", "block_k", "ratio", "seed"},
                                                view_metrics(MetricView::kRunTable, info.name, gen_tokens))));
  for (const auto& [i, j] : pairs) fmt::print("\n{}", printer->print(speedups_table(records[i], records[j])));
  return 0;
}

}  // namespace laco
