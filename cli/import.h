// `laco import lmms-eval`: an lmms-eval run's --log_samples output stored as
// a benchmark run (evals/lmms_eval_import.h), rescored by laco's scorer with
// every disagreement printed; flags and action, kept out of main.cc.
#pragma once

#include <string>
#include <vector>

#include "evals/lmms_eval_import.h"

namespace CLI {
class App;
}  // namespace CLI

namespace laco {

/// Usage: ImportCli i; i.attach(app); ... if (i.chosen()) return i.run();
struct ImportCli {
  LmmsEvalImport import;
  std::vector<std::string> options;  ///< --option KEY=VALUE
  std::string db = "results/laco.db";
  CLI::App* command = nullptr;
  CLI::App* lmms_eval = nullptr;

  void attach(CLI::App& app);
  bool chosen() const;
  /// Stores the run and prints what was imported; an Error for bad flags or files (caught in main).
  int run();
};

}  // namespace laco
