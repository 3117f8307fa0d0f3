// `laco predict`: the subcommand's flags and action, kept out of main.cc.
#pragma once

#include <string>

#include "evals/predict.h"

namespace CLI {
class App;
}

namespace laco {

/// Usage: PredictCli predict; predict.attach(app); ... if (predict.chosen()) return predict.run();
struct PredictCli {
  PredictRequest request;
  std::string format = "table";
  bool decode = false;       ///< the decode table instead of the speed-ups
  bool train_hours = false;  ///< the training-time table instead of the speed-ups
  CLI::App* command = nullptr;

  void attach(CLI::App& app);
  bool chosen() const;
  /// Prints the table; an Error for bad flags (caught in main).
  int run() const;
};

}  // namespace laco
