// `laco run`: one configuration or a small grid of them, resolved and run
// through the evaluation registry (evals/registry.h), printed with the
// printer layer. Kept out of main.cc, which only wires the subcommands in.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "harness/model/compressor.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace laco {

/// `--option KEY=VALUE` items as method options; a malformed one is an Error.
MethodOptions parse_method_options(const std::vector<std::string>& items);

/// Usage: RunCli run; run.attach(app); ... if (run.chosen()) return run.run();
/// `laco train` is the same command with the evaluation fixed to finetune:
/// RunCli train; train.attach(app, "finetune").
class RunCli {
 public:
  /// `eval` "": the `run` subcommand (--eval chooses); else a subcommand for that evaluation alone.
  void attach(CLI::App& app, const std::string& eval = "");
  bool chosen() const;
  int run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string eval_ = "efficiency";
  std::string preset_;
  std::string model_;  ///< --model: a checkpoint folder
  std::string methods_ = "laco", layers_ = "1/4", ratios_ = "2";
  std::vector<std::string> options_;
  std::string grid_policy_ = "pad";
  std::string init_ = "reference", projector_ = "reference";
  uint64_t seed_ = 0;
  int threads_ = 2;
  std::string format_ = "table";
  std::string cache_dir_ = "results/cache";
  bool vs_external_ = false;
  std::string db_;  ///< --db: store the runs there, as a sweep named laco-run would
  bool remeasure_ = false;
  bool allow_untrained_ = false;  ///< --allow-untrained  ///< --remeasure: with --db, measure done runs again (the old measurement archived)
  /// The evaluations' own settings as flags: section key -> (flag, value given).
  std::map<std::string, std::pair<CLI::Option*, std::string>> settings_;
};

}  // namespace laco
