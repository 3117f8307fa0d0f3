// `laco`: the command-line entry point: wires the subcommands in. Errors surface here, once.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/torch.h>

#include "evals/accuracy.h"
#include "evals/metrics.h"
#include "evals/synthvqa.h"
#include "evals/vqa_data.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/limits.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "cli/generate.h"
#include "cli/import.h"
#include "cli/predict.h"
#include "cli/report.h"
#include "cli/results.h"
#include "cli/run.h"
#include "harness/model/presets.h"
#include "harness/print/printer.h"
#include "harness/score/task.h"
#include "cli/demo.h"
#include "parity/method.h"
#include "methods/registry.h"

namespace {

int cmd_methods() {
  for (const auto& m : laco::method_registry()) {
    fmt::print("{:<14} {}\n", m.name, m.summary);
    for (const auto& [key, help] : m.options) fmt::print("{:<14}   option {}: {}\n", "", key, help);
    if (m.make_reference) fmt::print("{:<14}   reference configuration: yes (laco parity)\n", "");
    if (m.has_weights()) fmt::print("{:<14}   initialisation (--init reference): {}\n", "", to_string(m.reference_init));
    fmt::print("{:<14}   after the encoder: {}\n", "",
               m.own_projector ? "it is the projector (maps to the LM width)" : "followed by mlp2x_gelu");
  }
  return 0;
}

// `laco sweep` ends with status 130 whenever SIGINT or SIGTERM arrives (see
// harness/base/interrupt.h), so its handler is installed before anything else
// runs: functions in .preinit_array run before any shared library (LibTorch's
// start-up takes a noticeable fraction of a second) initialises.
void catch_sweep_interrupts(int argc, char** argv, char**) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    if (std::strcmp(argv[i], "sweep") == 0) laco::catch_interrupts();
    return;
  }
}
__attribute__((section(".preinit_array"), used)) void (*const kCatchSweepInterrupts)(int, char**, char**) =
    catch_sweep_interrupts;

}  // namespace

int main(int argc, char** argv) {
  laco::ensure_passive_openmp(argv);
  CLI::App app{"laco: benchmark and ablation harness for visual-token compression in multimodal LLMs"};
  app.set_version_flag("--version", std::string("laco-bench ") + laco::build_version());
  app.require_subcommand(0, 1);

  auto* methods = app.add_subcommand("methods", "List the compression methods and their options");
  std::string metrics_format = "table";
  auto* metrics_cmd = app.add_subcommand("metrics", "List every metric a run stores: unit, direction, statistic, model");
  metrics_cmd->add_option("-o,--format", metrics_format, laco::join(laco::printer_formats()))->capture_default_str();
  std::string tasks_format = "table";
  auto* tasks_cmd = app.add_subcommand("tasks", "List the benchmark task types, scored as lmms-eval scores them");
  tasks_cmd->add_option("-o,--format", tasks_format, laco::join(laco::printer_formats()))->capture_default_str();
  std::string limits_format = "table";
  auto* limits_cmd = app.add_subcommand("limits", "List the limits on untrusted inputs and how to raise each");
  limits_cmd->add_option("-o,--format", limits_format, laco::join(laco::printer_formats()))->capture_default_str();

  laco::DemoOptions demo;
  std::string demo_policy = "pad";
  int64_t image_size = demo.encoder.image_size(), patch = demo.encoder.patch_size(), width = demo.encoder.width(),
          depth = demo.encoder.depth(), heads = demo.encoder.heads(), mlp = demo.encoder.mlp_dim();
  auto* demo_cmd = app.add_subcommand("demo", "Run every method inside a small encoder and show grids, tokens, cost");
  // Sizes far beyond any CPU demo, well inside 64-bit products (tokens x width x batch).
  demo_cmd->add_option("--image-size", image_size, "Image side in pixels")->capture_default_str()->check(CLI::Range(1, 4096));
  demo_cmd->add_option("--patch-size", patch, "Patch side in pixels")->capture_default_str()->check(CLI::Range(1, 4096));
  demo_cmd->add_option("--width", width, "Encoder width")->capture_default_str()->check(CLI::Range(1, 65536));
  demo_cmd->add_option("--depth", depth, "Encoder blocks")->capture_default_str()->check(CLI::Range(1, 1024));
  demo_cmd->add_option("--heads", heads, "Attention heads")->capture_default_str()->check(CLI::Range(1, 1024));
  demo_cmd->add_option("--mlp-dim", mlp, "Encoder MLP width")->capture_default_str()->check(CLI::Range(1, 262144));
  demo_cmd->add_option("--placement", demo.placement, "Depth fraction (1/4, 0.25, 1) or block:K")->capture_default_str();
  demo_cmd->add_option("-r,--ratio", demo.ratio, "Merge factor r (" + laco::supported_ratios_text() + ")")
      ->capture_default_str();
  demo_cmd->add_option("--grid-policy", demo_policy, "pad, interpolate or error")->capture_default_str();
  demo_cmd->add_option("--batch", demo.batch, "Images per forward")->capture_default_str()->check(CLI::Range(1, 4096));
  demo_cmd->add_option("-t,--threads", demo.threads, "Intra-op threads")
      ->capture_default_str()
      ->check(CLI::Range(1, laco::kMaxThreads));
  std::string demo_format = "md";
  demo_cmd->add_option("-o,--format", demo_format, laco::join(laco::printer_formats()))->capture_default_str();

  std::string parity_file, parity_weights;
  double parity_tol = laco::kMethodParityTolerance;
  int parity_threads = 2;
  auto* parity = app.add_subcommand("parity", "Check a method against a reference implementation's outputs");
  parity->add_option("FILE", parity_file,
                     "A case: a method's in the shared/parity format, or a checkpoint's (tests/checkpoints/*.reference.safetensors)")
      ->required();
  parity->add_option("--weights", parity_weights, "Method case: weights file (default: the case's 'weights' metadata, or the case)");
  auto* parity_tol_flag = parity->add_option(
      "--tol", parity_tol,
      "Tolerance on max|a-b| / max(1, max|ref|) (default: 1e-4 for a method, derived from float32 arithmetic per output for a checkpoint)");
  parity->add_option("-t,--threads", parity_threads, "Intra-op threads")
      ->capture_default_str()
      ->check(CLI::Range(1, laco::kMaxThreads));
  std::string parity_format = "table";
  parity->add_option("-o,--format", parity_format, laco::join(laco::printer_formats()))->capture_default_str();

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
  export_cmd->add_option("--count", export_count, "Samples (default: the preset's test size)")
      ->check(CLI::Range(1, 10000000));
  export_cmd->add_option("--seed", export_seed, "Generator seed")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, static_cast<uint64_t>(laco::kMaxSeed)));

  laco::RunCli run_cli;
  run_cli.attach(app);
  laco::RunCli train_cli;
  train_cli.attach(app, "finetune");

  laco::ResultsCli results(app);
  laco::ReportCli report_cli;
  report_cli.attach(app);
  laco::PredictCli predict_cli;
  predict_cli.attach(app);
  laco::GenerateCli generate_cli;
  generate_cli.attach(app);
  laco::ImportCli import_cli;
  import_cli.attach(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // docs/cli.md's promise: every error is "laco: error: ..." and exit status 1.
    fmt::print(stderr, "laco: error: {}\n", e.what());
    if (argc < 2) fmt::print(stderr, "{}", app.help());
    else fmt::print(stderr, "run with --help for the usage\n");
    return 1;
  }

  // LACO_PARSE_ONLY=1: the command line parses (flags, values, their checks); nothing runs.
  // tests/test_docs.cc runs every command README.md and docs/ show this way.
  if (const char* parse_only = std::getenv("LACO_PARSE_ONLY"); parse_only && std::strcmp(parse_only, "1") == 0) return 0;

  if (argc < 2) {  // no subcommand: the help, as `laco --help` prints it
    fmt::print("{}", app.help());
    return 0;
  }

  try {
    if (*methods) return cmd_methods();
    if (*tasks_cmd) {
      laco::check_printer_format(tasks_format);
      laco::PrintTable t;
      t.title = "Benchmark task types (harness/score/task.h), scored as lmms-eval scores them";
      t.columns = {{"task"}, {"max_new_tokens"}, {"options"}, {"scored as"}, {"written from"}};
      for (const auto& task : laco::task_registry())
        t.add({task.name, task.max_new_tokens, task.needs_options ? "required" : "-", task.summary, task.lmms_eval});
      fmt::print("{}", laco::make_printer(tasks_format)->print(t));
      return 0;
    }
    if (*limits_cmd) {
      laco::check_printer_format(limits_format);
      laco::PrintTable t;
      t.title = "Limits on untrusted inputs (harness/base/limits.h): an input over one is refused, naming it";
      t.columns = {{"limit"}, {"raise with"}, {"default"}, {"unit"}, {"what"}};
      std::vector<std::string> set;
      for (const auto& l : laco::input_limits()) {
        t.add({l.name, l.env + "=N", static_cast<int64_t>(l.fallback), l.unit, l.what});
        if (const char* v = std::getenv(l.env.c_str()); v && *v) set.push_back(l.env + "=" + v);
      }
      if (!set.empty()) t.notes.push_back("set in this environment: " + laco::join(set));
      fmt::print("{}", laco::make_printer(limits_format)->print(t));
      return 0;
    }
    if (*metrics_cmd) {
      laco::check_printer_format(metrics_format);
      fmt::print("{}", laco::make_printer(metrics_format)->print(laco::metric_registry_table()));
      return 0;
    }
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
    if (run_cli.chosen()) return run_cli.run();
    if (train_cli.chosen()) return train_cli.run();
    if (auto status = results.run()) return laco::exit_status(*status);
    if (report_cli.chosen()) return report_cli.run();
    if (predict_cli.chosen()) return predict_cli.run();
    if (generate_cli.chosen()) return generate_cli.run();
    if (import_cli.chosen()) return import_cli.run();
    if (*demo_cmd) {
      laco::check_printer_format(demo_format);
      demo.encoder.image_size(image_size).patch_size(patch).width(width).depth(depth).heads(heads).mlp_dim(mlp);
      demo.grid_policy = laco::parse_grid_policy(demo_policy, "--grid-policy");
      fmt::print("{}", laco::make_printer(demo_format)->print(laco::run_demo(demo)));
      return 0;
    }
    if (*parity) {
      laco::check_printer_format(parity_format);
      laco::set_threads(parity_threads);
      const auto report = laco::run_parity(parity_file, parity_weights,
                                           parity_tol_flag->count() ? std::optional<double>(parity_tol) : std::nullopt);
      fmt::print("{}", laco::make_printer(parity_format)->print(laco::parity_table(report)));
      fmt::print("{}\n", report.pass() ? "parity: PASS" : "parity: FAIL");
      return report.pass() ? 0 : 1;
    }
  } catch (const laco::Interrupted& e) {
    fmt::print(stderr, "laco: {}\n", e.what());
    return 130;
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
