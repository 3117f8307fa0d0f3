#include "cli/generate.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/ranges.h>

#include "cli/run.h"
#include "evals/chat.h"
#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/compressor.h"
#include "harness/model/placement.h"
#include "harness/text/chat.h"

namespace laco {
namespace {

constexpr int64_t kMaxNewTokens = 32768;  // Qwen2's default context; the model's own is checked against the prompt

std::string ids_text(const std::vector<int64_t>& ids) { return fmt::format("[{}]", fmt::join(ids, ", ")); }

}  // namespace

void GenerateCli::attach(CLI::App& app) {
  generate = app.add_subcommand(
      "generate", "A released LLaVA-OneVision model answers one question about one image (greedy), any method inside");
  generate->add_option("--model", request.model,
                       "A LLaVA-OneVision checkpoint folder (transformers' layout: config.json, safetensors, "
                       "tokenizer.json, a ChatML chat template, preprocessor_config.json)")
      ->required();
  generate->add_option("--image", image, "The image: PNG or JPEG")->required();
  generate->add_option("--prompt", prompt, "The question (the image's tokens go before it)")->required();
  system_option = generate->add_option("--system", system, std::string("The system text (\"\": no system turn; default: ") +
                                               kChatDefaultSystem + ")");
  generate->add_option("--max-new-tokens", max_new_tokens, "Stop after this many ids if <|im_end|> has not come")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, kMaxNewTokens));
  request.method = "none";
  request.layer = kAfterEncoder;
  generate->add_option("-m,--method", request.method, "Method inside the model (laco methods)")->capture_default_str();
  generate->add_option("-l,--layer", request.layer,
                       "Placement: " + join(standard_placements()) + " (" + kAfterEncoder + ": after the encoder), 0.25, block:K")
      ->capture_default_str();
  generate->add_option("-r,--ratio", request.ratio, "Merge factor r in " + supported_ratios_text())->capture_default_str();
  generate->add_option("--option", options, "Method option KEY=VALUE (repeatable)");
  generate->add_option("--grid-policy", grid_policy, "pad, interpolate or error")->capture_default_str();
  generate->add_option("--init", request.init, "Method weights: reference, trunc_normal, torch_default")->capture_default_str();
  generate->add_option("--projector", request.projector, "After the encoder: reference or mlp2x_gelu")->capture_default_str();
  generate->add_flag("--allow-untrained", request.allow_untrained,
                     "Run a method whose weights must be trained untrained (an ablation; otherwise refused: fine-tune "
                     "it first with laco train)");
  generate->add_option("--seed", request.seed, "Seed of the method's initialisation")->capture_default_str();
  generate->add_option("-t,--threads", request.threads, "Threads (LibTorch intra-op and OpenBLAS)")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxThreads));
  generate->add_option("-o,--format", format, "text or json (json adds input_ids and generated_ids)")->capture_default_str();

  tokenize = app.add_subcommand("tokenize", "The token ids of a text by a checkpoint folder's tokenizer.json");
  tokenize->add_option("--model", tokenize_dir, "A checkpoint folder with tokenizer.json")->required();
  tokenize->add_option("TEXT", tokenize_text, "The text")->required();
  tokenize->add_flag("--chat", tokenize_chat,
                     "Wrap TEXT in the qwen_1_5 prompt (system, user turn with <image>, assistant) first");
  tokenize->add_flag("--no-image", tokenize_no_image, "With --chat: no <image> line");
}

bool GenerateCli::chosen() const { return (generate && generate->parsed()) || (tokenize && tokenize->parsed()); }

int GenerateCli::run() const {
  if (tokenize && tokenize->parsed()) {
    if (tokenize_no_image && !tokenize_chat) fail("--no-image: only with --chat");
    std::vector<int64_t> ids;
    if (tokenize_chat) {
      const auto t = load_chat_tokenizer(tokenize_dir);
      ids = t.tokenizer.encode(chat_prompt(tokenize_text, kChatDefaultSystem, !tokenize_no_image));
    } else {
      ids = load_folder_tokenizer(tokenize_dir).encode(tokenize_text);
    }
    fmt::print("{}\n", ids_text(ids));
    return 0;
  }
  if (format != "text" && format != "json") fail("-o: '{}' is not a format of generate (allowed: text, json)", format);
  RunRequest r = request;
  r.method_options = parse_method_options(options);
  r.grid_policy = parse_grid_policy(grid_policy, "--grid-policy");
  const ChatModel model = ChatModel::load(r);
  const ChatAnswer a = model.answer(image, prompt, max_new_tokens, system_option->count() ? system : kChatDefaultSystem);
  if (format == "json") {
    auto j = to_json(a);
    j["method"] = model.facts()["method"];
    j["threads"] = r.threads;
    j["facts"] = model.facts();
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  if (model.facts().contains("method_weights")) fmt::print(stderr, "note: {}\n", model.facts()["method_weights"].get<std::string>());
  fmt::print("{}\n\n", a.text);
  fmt::print("method {} | image {}x{} px -> {} crops (best resolution {}x{}) -> {} visual tokens\n",
             model.facts()["method"].get<std::string>(), a.image_width, a.image_height, a.crops, a.best_width, a.best_height, a.visual_tokens);
  fmt::print("prompt {} tokens | generated {} ({}) | time to first token {:.3f} s, per output token {:.1f} ms | "
             "{} threads\n",
             a.prompt_tokens, a.generated_ids.size(), a.stopped ? "stopped at <|im_end|>" : "max-new-tokens reached",
             a.ttft_s, a.tpot_s * 1e3, r.threads);
  return 0;
}

}  // namespace laco
