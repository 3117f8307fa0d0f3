#include "harness/cli/run.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "evals/efficiency.h"
#include "evals/registry.h"
#include "evals/synthvqa.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/json_check.h"
#include "harness/base/progress.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/compressor.h"
#include "harness/print/printer.h"
#include "methods/registry.h"
#include "results/store.h"

namespace laco {
namespace {

MethodOptions parse_method_options(const std::vector<std::string>& items) {
  MethodOptions out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail("--option: '{}' must be KEY=VALUE (e.g. zero_init=true)", item);
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// The flag of a section key: steps0 -> --steps0, text_tokens -> --text-tokens.
std::string flag_of(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return "--" + key;
}

// What each evaluation's table shows, beyond the configuration columns;
// efficiency runs that measured generation add its figures for their token counts.
std::vector<std::string> summary_metrics(const std::string& eval, const std::vector<RunRecord>& records) {
  if (eval == "accuracy") {
    std::vector<std::string> columns;
    for (const auto& f : vqa_families()) columns.push_back("acc_" + f);
    for (const char* m : {"acc_overall", "acc_mean", "visual_tokens", "stage1_time", "stage2_time"}) columns.push_back(m);
    return columns;
  }
  std::vector<std::string> columns = {"visual_tokens",   "encoder_latency",       "prefill_latency",
                                      "throughput",      "train_step_time",       "inference_peak_tensor",
                                      "train_peak_tensor", "flops_train_step"};
  if (!records.empty() && !records.front().spec.efficiency().gen_tokens.empty()) {
    const auto& gen = records.front().spec.efficiency().gen_tokens;
    columns.push_back(fmt::format("decode_tpot_{}", gen.back()));
    for (int64_t n : gen) columns.push_back(fmt::format("decode_latency_{}", n));
    columns.push_back(fmt::format("max_batch_{}", gen.back()));
  }
  return columns;
}

}  // namespace

void RunCli::attach(CLI::App& app) {
  command_ = app.add_subcommand("run", "Measure one configuration (or a small grid of them)");
  command_->add_option("--eval", eval_, "Evaluation: " + join(evaluation_names()))->capture_default_str();
  std::string presets;
  for (const auto& e : evaluation_registry()) presets += fmt::format("{}{} {}", presets.empty() ? "" : "; ", e.name, join(e.presets));
  command_->add_option("--preset", preset_, "Preset (laco presets; default: the evaluation's): " + presets);
  command_->add_option("--model", model_,
                       "A checkpoint folder in the Hugging Face layout (config.json + model.safetensors or shards): "
                       "SigLIP, Qwen2 or LLaVA-OneVision; the model takes its parts, shapes and weights, the preset "
                       "the rest (accuracy: no stage 0)");
  command_->add_option("-m,--method", methods_, "Method(s), comma-separated, or all")->capture_default_str();
  command_->add_option("-l,--layer", layers_, "Placement(s): 1/12, 1/6, 1/4, 1/2, 1 (external), 0.25, block:K")
      ->capture_default_str();
  command_->add_option("-r,--ratio", ratios_, "Merge factor(s) r in 2, 3, 4")->capture_default_str();
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
  command_->add_flag("--vs-external", vs_external_,
                     "efficiency: also run each method after the encoder and print measured vs FLOP-model speedups");
  // Every evaluation's own settings, named as in a sweep spec's section.
  const std::map<std::string, std::string> help = {
      {"crops", "Images per request, base + crops"},
      {"text_tokens", "Text tokens per request"},
      {"batch", "Requests per forward for throughput"},
      {"train_batch", "Requests per training step"},
      {"warmup", "Untimed runs before each measurement"},
      {"reps", "Timed runs per measurement"},
      {"stages", "Comma-separated subset of " + join(efficiency_stage_names(), ",")},
      {"device", "Device: cpu"},
      {"gen_tokens", "decode: generated tokens per request, comma-separated (e.g. 16,256)"},
      {"memory_budget_gib", "decode: the memory (GiB) the largest batch must fit in"},
      {"steps0", "Stage-0 steps"},
      {"steps1", "Stage-1 steps"},
      {"steps2", "Stage-2 steps"},
      {"stage0_seed", "Share the stage-0 model (and data) of this seed across seeds"},
      {"train_data", "LLaVA-layout JSONL to train on instead of SynthVQA"},
      {"test_data", "LLaVA-layout JSONL to evaluate on instead of SynthVQA"}};
  for (const auto& e : evaluation_registry())
    for (const auto& key : e.section_keys) {
      if (key == "preset" || key == "seeds" || settings_.count(key)) continue;
      auto it = help.find(key);
      auto& slot = settings_[key];
      std::string text = e.name + ": " + (it == help.end() ? key : it->second) + " (default: the preset's)";
      std::string names = flag_of(key);
      if (key == "batch") names = "-b," + names;
      slot.first = command_->add_option(names, slot.second, text);
    }
}

bool RunCli::chosen() const { return command_ && command_->parsed(); }

int RunCli::run() const {
  const EvaluationInfo& info = find_evaluation(eval_);
  check_printer_format(format_);
  auto methods = split_list(methods_);
  if (methods.size() == 1 && methods[0] == "all") methods = method_names();
  const auto layers = split_list(layers_);
  std::vector<int64_t> ratios;
  for (const auto& r : split_list(ratios_)) {
    auto v = parse_int(r);
    if (!v) fail("--ratio: '{}' is not an integer (allowed: 2, 3, 4)", r);
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
    if (std::find(info.section_keys.begin(), info.section_keys.end(), key) == info.section_keys.end()) {
      std::vector<std::string> own;
      for (const auto& k : info.section_keys)
        if (k != "preset" && k != "seeds") own.push_back(flag_of(k));
      fail("{}: not a setting of --eval {} (allowed: {})", flag_of(key), info.name, join(own));
    }
    if (key == "stages") {
      settings[key] = split_list(slot.second);
    } else if (key == "gen_tokens") {
      settings[key] = nlohmann::json::array();
      for (const auto& item : split_list(slot.second)) {
        auto v = parse_int(item);
        if (!v) fail("{}: '{}' is not a 64-bit integer", flag_of(key), item);
        settings[key].push_back(*v);
      }
    } else if (key == "memory_budget_gib") {
      char* end = nullptr;
      const double v = std::strtod(slot.second.c_str(), &end);
      if (slot.second.empty() || *end != '\0') fail("{}: '{}' is not a number", flag_of(key), slot.second);
      settings[key] = v;
    } else if (key == "device" || key == "train_data" || key == "test_data") {
      settings[key] = slot.second;
    } else {
      auto v = parse_int(slot.second);
      if (!v) fail("{}: '{}' is not a 64-bit integer", flag_of(key), slot.second);
      settings[key] = *v;
    }
  }
  // The checks a spec's section gets (ranges, names), with errors naming the flag.
  settings = info.parse_settings(JsonChecker::for_flags(), settings, "$");

  RunRequest base;
  base.preset = preset_.empty() ? info.default_preset : preset_;
  base.model = model_;
  base.method_options = parse_method_options(options_);
  base.grid_policy = parse_grid_policy(grid_policy_, "--grid-policy");
  parse_init_scheme(init_, "--init");
  check_projector_choice(projector_, "--projector");
  base.init = init_;
  base.projector = projector_;
  base.seed = seed_;
  base.threads = threads_;

  // Every configuration asked for (with --vs-external also each method and
  // ratio after the encoder), resolved and so checked before anything runs;
  // those the evaluation measures together (efficiency: one preset, seed and
  // set of settings) form one interleaved group, as in a sweep, so that the
  // table printed compares runs measured together.
  std::vector<RunSpec> specs;
  auto add = [&](RunRequest request) {
    RunSpec spec = info.resolve(request, settings);
    for (const auto& s : specs)
      if (s.key() == spec.key()) return;  // e.g. `none` at two placements, or 1 given with --vs-external
    specs.push_back(std::move(spec));
  };
  for (const auto& m : methods)
    for (int64_t r : ratios) {
      RunRequest request = base;
      request.method = m;
      request.ratio = r;
      // A method inside the LM leaves the encoder's tokens complete: it sits after the encoder (as in sweeps).
      const bool in_lm = find_method(m).site == MethodSite::kInLm;
      for (const auto& l : layers) {
        if (in_lm && l != "1")
          fmt::print(stderr, "laco run: `{}` acts inside the LM; --layer {} does not apply, measured after the encoder (1)\n",
                     m, l);
        request.layer = in_lm ? "1" : l;
        add(request);
      }
      if (vs_external_) {
        request.layer = "1";
        add(request);
      }
    }
  std::vector<std::vector<RunSpec>> groups;
  {
    std::map<std::string, size_t> group_of;
    for (const auto& s : specs) {
      const std::string g = info.group(s);
      auto it = g.empty() ? group_of.end() : group_of.find(g);
      if (it != group_of.end()) {
        groups[it->second].push_back(s);
        continue;
      }
      if (!g.empty()) group_of[g] = groups.size();
      groups.push_back({s});
    }
  }

  // With --db: refused before anything runs when a configuration is done
  // there already (one current measurement per configuration, as in a
  // sweep), unless --remeasure asks for a new one at this build.
  std::optional<ResultStore> store;
  if (!db_.empty()) {
    store.emplace(db_, true);
    std::vector<std::string> keys;
    std::vector<PlannedRun> planned;
    for (const auto& g : groups)
      for (const auto& s : g) {
        keys.push_back(s.key());
        planned.push_back({keys.back(), s, {"run"}});
      }
    for (const auto& [key, state] : store->states(keys)) {
      if (claimable(state, true, remeasure_)) continue;
      if (held_by_live_process(state))
        fail("{}: run {} is being measured by another process there (allowed: configurations no other process holds)",
             db_, key);
      if (remeasure_)
        fail("{}: run {} is done there already, measured by this build ({}) (allowed: --remeasure measures again "
             "the runs another build measured: commit a change, or build with uncommitted changes)",
             db_, key, commit_label(state.git_commit, state.git_dirty));
      fail("{}: run {} is done there already (allowed: configurations not done in the database, or --remeasure to "
           "measure it again, keeping the current measurement in the archive)",
           db_, key);
    }
    store->register_runs("laco-run", planned);
  }

  int64_t units = 0;
  for (const auto& g : groups) units += info.units(g);
  Progress progress(info.name, units);
  progress.expect_advances(expected_advances(specs, cache_dir_));
  std::vector<RunRecord> records;
  std::vector<std::pair<size_t, size_t>> pairs;  // (internal, external) record indices
  for (const auto& g : groups) {
    const size_t first = records.size();
    std::vector<std::string> keys;
    for (const auto& s : g) keys.push_back(s.key());
    if (store && store->claim(keys, g.size() > 1 ? info.group(g.front()) : std::string(), true, remeasure_).size() !=
                     keys.size())
      fail("{}: a run of this group was taken by another process meanwhile; nothing of it was run", db_);
    try {
      for (auto& r : info.run(g, {&progress, cache_dir_})) records.push_back(std::move(r));
    } catch (const Interrupted&) {
      if (store) store->release(keys);
      throw;
    } catch (const std::exception& e) {
      if (store) store->record_failed(keys, e.what());
      throw;
    }
    if (store) {
      std::vector<std::pair<std::string, RunRecord>> results;
      for (size_t i = 0; i < keys.size(); ++i) results.emplace_back(keys[i], records[first + i]);
      store->record_done(results);
    }
    if (!vs_external_) continue;
    // Each internal placement against the same method, options and ratio after the encoder.
    for (size_t i = first; i < records.size(); ++i)
      for (size_t j = first; j < records.size(); ++j) {
        const auto &in = records[i].spec, &ext = records[j].spec;
        if (!in.external() && ext.external() && in.method_label() == ext.method_label() && in.ratio == ext.ratio)
          pairs.emplace_back(i, j);
      }
  }
  progress.finish();
  if (store) fmt::print(stderr, "laco: stored {} run(s) in {} (sweep laco-run)\n", records.size(), db_);

  if (format_ == "json") {
    fmt::print("{}\n", to_json(records).dump(2));
    return 0;
  }
  const auto printer = make_printer(format_);
  if (format_ == "table")
    for (const auto& r : records) fmt::print("{}\n", format_record(r));
  fmt::print("{}", printer->print(records_table(records, {"method", "layer", "block_k", "ratio", "seed"},
                                                summary_metrics(info.name, records))));
  for (const auto& [i, j] : pairs) fmt::print("\n{}", printer->print(speedups_table(records[i], records[j])));
  return 0;
}

}  // namespace laco
