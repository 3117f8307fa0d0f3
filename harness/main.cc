// `laco`: the command-line entry point. Errors surface here, once.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/torch.h>

#include "harness/demo.h"
#include "harness/error.h"
#include "harness/parity.h"
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

}  // namespace

int main(int argc, char** argv) {
  laco::ensure_passive_openmp(argv);
  CLI::App app{"laco: benchmark and ablation harness for visual-token compression in multimodal LLMs"};
  app.set_version_flag("--version", std::string("laco-bench ") + LACO_GIT_COMMIT);
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
  demo_cmd->add_option("--placement", demo.placement, "Depth fraction after which to compress")->capture_default_str();
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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (*methods) return cmd_methods();
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
