// `laco`: the command-line entry point. Errors surface here, once.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/torch.h>

#include "evals/accuracy.h"
#include "evals/efficiency.h"
#include "evals/synthvqa.h"
#include "evals/vqa_data.h"
#include "harness/build_info.h"
#include "harness/demo.h"
#include "harness/error.h"
#include "harness/parity.h"
#include "harness/presets.h"
#include "harness/progress.h"
#include "harness/cli_report.h"
#include "harness/results_cli.h"
#include "harness/text.h"
#include "harness/threads.h"
#include "methods/registry.h"

namespace {

int cmd_methods() {
  for (const auto& m : laco::method_registry()) {
    fmt::print("{:<14} {}\n", m.name, m.summary);
    for (const auto& [key, help] : m.options) fmt::print("{:<14}   option {}: {}\n", "", key, help);
    if (m.make_reference) fmt::print("{:<14}   reference configuration: yes (laco parity)\n", "");
  }
  return 0;
}

struct RunArgs {
  std::string eval = "efficiency";
  std::string methods = "laco";
  std::string layers = "1/4";
  std::string ratios = "2";
  std::vector<std::string> options;
  std::string grid_policy = "pad";
  std::string stages;
  std::string format = "table";
  bool vs_external = false;
  laco::EfficiencyConfig base;
  // accuracy only
  std::string cache_dir = "results/cache";
  int64_t steps0 = -1, steps1 = -1, steps2 = -1;
  std::string train_data, test_data;
};

laco::MethodOptions parse_method_options(const std::vector<std::string>& items) {
  laco::MethodOptions out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) laco::fail("--option: '{}' must be KEY=VALUE (e.g. zero_init=true)", item);
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

int cmd_run_accuracy(const RunArgs& a, const std::vector<std::string>& methods, const std::vector<std::string>& layers,
                     const std::vector<int64_t>& ratios) {
  std::vector<laco::AccuracyConfig> configs;
  for (const auto& m : methods)
    for (const auto& l : layers)
      for (int64_t r : ratios) {
        laco::AccuracyConfig c;
        c.preset = a.base.preset;
        c.method = m;
        c.layer = l;
        c.ratio = r;
        c.method_options = parse_method_options(a.options);
        c.grid_policy = laco::parse_grid_policy(a.grid_policy, "--grid-policy");
        c.seed = a.base.seed;
        c.threads = a.base.threads;
        c.cache_dir = a.cache_dir;
        c.steps0 = a.steps0;
        c.steps1 = a.steps1;
        c.steps2 = a.steps2;
        c.train_data = a.train_data;
        c.test_data = a.test_data;
        laco::resolve_accuracy_config(c);  // every configuration checked before any trains
        configs.push_back(c);
      }
  int64_t units = 0;
  for (const auto& c : configs) units += laco::accuracy_units(c);
  laco::Progress progress("accuracy", units);
  std::vector<laco::RunRecord> records;
  for (const auto& c : configs) records.push_back(laco::run_accuracy(c, &progress));
  progress.finish();
  if (a.format == "json") {
    fmt::print("{}\n", laco::to_json(records).dump(2));
    return 0;
  }
  std::vector<std::string> columns;
  for (const auto& f : laco::vqa_families()) columns.push_back("acc_" + f);
  for (const char* m : {"acc_overall", "acc_mean", "visual_tokens", "stage1_time", "stage2_time"}) columns.push_back(m);
  if (a.format == "table")
    for (const auto& r : records) fmt::print("{}\n", laco::format_record(r));
  fmt::print("{}", laco::format_records_table(records, {"method", "layer", "block_k", "ratio", "seed"}, columns));
  return 0;
}

int cmd_run(const RunArgs& a) {
  if (a.eval != "efficiency" && a.eval != "accuracy")
    laco::fail("--eval: unknown evaluation '{}' (allowed: efficiency, accuracy)", a.eval);
  if (a.format != "table" && a.format != "md" && a.format != "json")
    laco::fail("--format: unknown format '{}' (allowed: table, md, json)", a.format);
  auto methods = laco::split_list(a.methods);
  if (methods.size() == 1 && methods[0] == "all") methods = laco::method_names();
  const auto layers = laco::split_list(a.layers);
  std::vector<int64_t> ratios;
  for (const auto& r : laco::split_list(a.ratios)) {
    auto v = laco::parse_int(r);
    if (!v) laco::fail("--ratio: '{}' is not an integer (allowed: 2, 3, 4)", r);
    ratios.push_back(*v);
  }
  if (methods.empty() || layers.empty() || ratios.empty()) laco::fail("--method, --layer and --ratio need a value each");
  if (a.eval == "accuracy") return cmd_run_accuracy(a, methods, layers, ratios);

  // Groups are measured together (interleaved repetitions). With --vs-external
  // a group is one method and ratio at every placement asked for plus the
  // placement after the encoder; otherwise every configuration stands alone.
  std::vector<std::vector<laco::EfficiencyConfig>> groups;
  for (const auto& m : methods)
    for (int64_t r : ratios) {
      std::vector<laco::EfficiencyConfig> group;
      bool has_external = false;
      for (const auto& l : layers) {
        laco::EfficiencyConfig c = a.base;
        c.method = m;
        c.layer = l;
        c.ratio = r;
        c.method_options = parse_method_options(a.options);
        c.grid_policy = laco::parse_grid_policy(a.grid_policy, "--grid-policy");
        c.stages = laco::split_list(a.stages);
        has_external |= laco::resolve_efficiency_config(c)["external"].get<bool>();  // validates too
        group.push_back(c);
      }
      if (a.vs_external && !has_external) {
        laco::EfficiencyConfig ext = group.front();
        ext.layer = "1";
        group.push_back(ext);
      }
      if (a.vs_external) {
        groups.push_back(group);
      } else {
        for (const auto& c : group) groups.push_back({c});
      }
    }

  int64_t units = 0;
  for (const auto& g : groups) units += laco::efficiency_units(g);
  laco::Progress progress("efficiency", units);
  std::vector<laco::RunRecord> records;
  std::vector<std::pair<size_t, size_t>> pairs;  // (internal, external) record indices
  for (const auto& g : groups) {
    const size_t first = records.size();
    for (auto& r : laco::run_efficiency(g, &progress)) records.push_back(std::move(r));
    if (!a.vs_external) continue;
    size_t external = first;
    for (size_t i = first; i < records.size(); ++i)
      if (records[i].config["external"].get<bool>()) external = i;
    for (size_t i = first; i < records.size(); ++i)
      if (i != external) pairs.emplace_back(i, external);
  }
  progress.finish();

  if (a.format == "json") {
    fmt::print("{}\n", laco::to_json(records).dump(2));
    return 0;
  }
  const std::vector<std::string> keys = {"method", "layer", "block_k", "ratio"};
  const std::vector<std::string> summary = {"visual_tokens", "encoder_latency", "prefill_latency", "throughput",
                                            "train_step_time", "inference_peak_tensor", "train_peak_tensor",
                                            "flops_train_step"};
  if (a.format == "table")
    for (const auto& r : records) fmt::print("{}\n", laco::format_record(r));
  if (records.size() > 1 || a.format == "md") fmt::print("{}\n", laco::format_records_table(records, keys, summary));
  for (const auto& [i, j] : pairs) fmt::print("{}\n", laco::format_speedups(records[i], records[j]));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  laco::ensure_passive_openmp(argv);
  CLI::App app{"laco: benchmark and ablation harness for visual-token compression in multimodal LLMs"};
  app.set_version_flag("--version", std::string("laco-bench ") + laco::build_version());
  app.require_subcommand(1);

  auto* methods = app.add_subcommand("methods", "List the compression methods and their options");

  laco::DemoOptions demo;
  std::string demo_policy = "pad";
  int64_t image_size = demo.encoder.image_size(), patch = demo.encoder.patch_size(), width = demo.encoder.width(),
          depth = demo.encoder.depth(), heads = demo.encoder.heads(), mlp = demo.encoder.mlp_dim();
  auto* demo_cmd = app.add_subcommand("demo", "Run every method inside a small encoder and show grids, tokens, cost");
  demo_cmd->add_option("--image-size", image_size, "Image side in pixels")->capture_default_str();
  demo_cmd->add_option("--patch-size", patch, "Patch side in pixels")->capture_default_str();
  demo_cmd->add_option("--width", width, "Encoder width")->capture_default_str();
  demo_cmd->add_option("--depth", depth, "Encoder blocks")->capture_default_str();
  demo_cmd->add_option("--heads", heads, "Attention heads")->capture_default_str();
  demo_cmd->add_option("--mlp-dim", mlp, "Encoder MLP width")->capture_default_str();
  demo_cmd->add_option("--placement", demo.placement, "Depth fraction (1/4, 0.25, 1) or block:K")->capture_default_str();
  demo_cmd->add_option("-r,--ratio", demo.ratio, "Merge factor r (2, 3, 4)")->capture_default_str();
  demo_cmd->add_option("--grid-policy", demo_policy, "pad, interpolate or error")->capture_default_str();
  demo_cmd->add_option("--batch", demo.batch, "Images per forward")->capture_default_str();
  demo_cmd->add_option("-t,--threads", demo.threads, "Intra-op threads")->capture_default_str();

  std::string parity_file, parity_weights;
  double parity_tol = 1e-4;
  int parity_threads = 2;
  auto* parity = app.add_subcommand("parity", "Check a method against a reference implementation's outputs");
  parity->add_option("FILE", parity_file, "A case in the shared/parity safetensors format")->required();
  parity->add_option("--weights", parity_weights, "Weights file (default: the case's 'weights' metadata, or the case)");
  parity->add_option("--tol", parity_tol, "Tolerance on max|a-b| / max(1, max|ref|)")->capture_default_str();
  parity->add_option("-t,--threads", parity_threads, "Intra-op threads")->capture_default_str();

  auto* presets_cmd = app.add_subcommand("presets", "Print the model and measurement presets");

  std::string export_preset = "small", export_split = "test", export_out;
  int64_t export_count = -1;
  uint64_t export_seed = 0;
  auto* data_cmd = app.add_subcommand("data", "SynthVQA data");
  data_cmd->require_subcommand(1);
  auto* export_cmd = data_cmd->add_subcommand("export", "Write a split as PNG images + LLaVA-layout JSONL");
  export_cmd->add_option("--preset", export_preset, "Accuracy preset: tiny, small, base")->capture_default_str();
  export_cmd->add_option("--split", export_split, "train, val or test")->capture_default_str();
  export_cmd->add_option("--out", export_out, "Output folder")->required();
  export_cmd->add_option("--count", export_count, "Samples (default: the preset's test size)");
  export_cmd->add_option("--seed", export_seed, "Generator seed")->capture_default_str();

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Measure one configuration (or a small grid of them)");
  run_cmd->add_option("--eval", run.eval, "Evaluation: efficiency or accuracy")->capture_default_str();
  run_cmd->add_option("--preset", run.base.preset,
                      "Preset (laco presets): efficiency paper, cpu-small, tiny; accuracy tiny, small, base")
      ->capture_default_str();
  run_cmd->add_option("-m,--method", run.methods, "Method(s), comma-separated, or all")->capture_default_str();
  run_cmd->add_option("-l,--layer", run.layers, "Placement(s): 1/12, 1/6, 1/4, 1/2, 1 (external), 0.25, block:K")
      ->capture_default_str();
  run_cmd->add_option("-r,--ratio", run.ratios, "Merge factor(s) r in 2, 3, 4")->capture_default_str();
  run_cmd->add_option("--option", run.options, "Method option KEY=VALUE (repeatable), e.g. zero_init=true");
  run_cmd->add_option("--grid-policy", run.grid_policy, "pad, interpolate or error")->capture_default_str();
  run_cmd->add_option("--crops", run.base.crops, "Images per request, base + crops (default: preset)");
  run_cmd->add_option("--text-tokens", run.base.text_tokens, "Text tokens per request (default: preset)");
  run_cmd->add_option("-b,--batch", run.base.batch, "Requests per forward for throughput (default: preset)");
  run_cmd->add_option("--train-batch", run.base.train_batch, "Requests per training step (default: preset)");
  run_cmd->add_option("--warmup", run.base.warmup, "Untimed runs before each measurement (default: preset)");
  run_cmd->add_option("--reps", run.base.reps, "Timed runs per measurement (default: preset)");
  run_cmd->add_option("-t,--threads", run.base.threads, "Threads (LibTorch intra-op and OpenBLAS)")->capture_default_str();
  run_cmd->add_option("--seed", run.base.seed, "Random seed")->capture_default_str();
  run_cmd->add_option("--device", run.base.device, "Device: cpu")->capture_default_str();
  run_cmd->add_option("--stages", run.stages, "Comma-separated subset of encoder,prefill,throughput,train,memory,peak");
  run_cmd->add_option("-o,--format", run.format, "table, md or json")->capture_default_str();
  run_cmd->add_option("--cache-dir", run.cache_dir, "accuracy: where stage-0 models are cached")->capture_default_str();
  run_cmd->add_option("--steps0", run.steps0, "accuracy: stage-0 steps (default: preset)");
  run_cmd->add_option("--steps1", run.steps1, "accuracy: stage-1 steps (default: preset)");
  run_cmd->add_option("--steps2", run.steps2, "accuracy: stage-2 steps (default: preset)");
  run_cmd->add_option("--train-data", run.train_data, "accuracy: LLaVA-layout JSONL to train on instead of SynthVQA");
  run_cmd->add_option("--test-data", run.test_data, "accuracy: LLaVA-layout JSONL to evaluate on instead of SynthVQA");
  run_cmd->add_flag("--vs-external", run.vs_external,
                    "Also run each method after the encoder and print measured vs FLOP-model speedups");

  laco::ResultsCli results(app);
  laco::ReportCli report_cli;
  report_cli.attach(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*methods) return cmd_methods();
    if (*presets_cmd) {
      fmt::print("{}{}", laco::format_presets(), laco::format_accuracy_presets());
      return 0;
    }
    if (*export_cmd) {
      const auto& p = laco::find_accuracy_preset(export_preset);
      const int64_t count = export_count >= 0 ? export_count : p.test_size;
      if (count < 1) laco::fail("--count: must be >= 1, got {}", count);
      const auto samples = laco::generate_vqa_split(p.data, export_seed, export_split, count);
      const auto path = laco::export_vqa(samples, export_out, export_split);
      fmt::print("wrote {} samples: {}\n", samples.size(), path);
      return 0;
    }
    if (*run_cmd) return cmd_run(run);
    if (auto status = results.run()) return *status;
    if (report_cli.chosen()) return report_cli.run();
    if (*demo_cmd) {
      demo.encoder.image_size(image_size).patch_size(patch).width(width).depth(depth).heads(heads).mlp_dim(mlp);
      demo.grid_policy = laco::parse_grid_policy(demo_policy, "--grid-policy");
      fmt::print("{}", laco::run_demo(demo));
      return 0;
    }
    if (*parity) {
      laco::set_threads(parity_threads);
      const auto report = laco::run_parity(parity_file, parity_weights, parity_tol);
      fmt::print("{}", laco::format_parity(report));
      fmt::print("{}\n", report.pass() ? "parity: PASS" : "parity: FAIL");
      return report.pass() ? 0 : 1;
    }
  } catch (const laco::Error& e) {
    fmt::print(stderr, "laco: error: {}\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    fmt::print(stderr, "laco: torch error: {}\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "laco: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
