// `laco generate` (a released LLaVA-OneVision model answers one question about
// one image, with any method inside) and `laco tokenize` (a folder's token
// ids, as llama.cpp's llama-tokenize prints them): flags and actions, kept
// out of main.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/run_request.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace laco {

/// Usage: GenerateCli g; g.attach(app); ... if (g.chosen()) return g.run();
struct GenerateCli {
  RunRequest request;
  std::vector<std::string> options;  ///< --option KEY=VALUE
  std::string grid_policy = "pad";
  std::string image, prompt, system;
  int64_t max_new_tokens = 64;
  std::string format = "text";
  CLI::App* generate = nullptr;
  CLI::Option* system_option = nullptr;  ///< given: --system replaces the default

  std::string tokenize_dir, tokenize_text;
  bool tokenize_chat = false, tokenize_no_image = false;
  CLI::App* tokenize = nullptr;

  void attach(CLI::App& app);
  bool chosen() const;
  /// Prints the answer or the ids; an Error for bad flags or files (caught in main).
  int run() const;
};

}  // namespace laco
