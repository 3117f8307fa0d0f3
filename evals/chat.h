// A released LLaVA-OneVision checkpoint answering one question about one
// image, as transformers' LlavaOnevisionForConditionalGeneration does with
// its processor, greedy: the folder's tokenizer (harness/text/bpe_tokenizer.h)
// and the qwen_1_5 prompt (harness/text/chat.h), its image processor
// (harness/image/llava_processor.h: best resolution, tiles, Pillow's bicubic),
// the image's features packed with image_newline (harness/model/anyres.h) and
// spliced into the prompt where `<image>` stood, expanded to exactly their
// count; then greedy decoding until `<|im_end|>` or the limit. Any method may
// sit inside, built and placed as `laco run` builds it (resolve_method_placement).
//
// Loaded once, it answers many questions: `laco generate` asks one, the
// benchmark evaluation (issue 43) many.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "harness/text/chat.h"

namespace laco {

/// What one answer was and cost.
struct ChatAnswer {
  std::string text;                    ///< the generated ids decoded, special tokens skipped
  std::vector<int64_t> input_ids;      ///< the prompt, `<image>` expanded to its visual tokens
  std::vector<int64_t> generated_ids;  ///< greedy, ending with `<|im_end|>` when it stopped there
  bool stopped = false;                ///< true: `<|im_end|>` ended it; false: max_new_tokens did
  int64_t prompt_tokens = 0;           ///< input_ids.size()
  int64_t visual_tokens = 0;           ///< the image's packed tokens in the prompt (with the newlines)
  int64_t crops = 0;                   ///< base image + tiles
  int64_t best_height = 0, best_width = 0;  ///< the processor's best resolution
  int64_t image_height = 0, image_width = 0;
  double preprocess_s = 0;  ///< image decoding and processing, tokenisation
  double ttft_s = 0;        ///< time to first token: encoder, packing, prefill, first id
  double tpot_s = 0;        ///< time per output token after the first (0 with one token)
};

/// Usage: auto m = ChatModel::load(request); auto a = m.answer("cat.jpg", "What is this?");
class ChatModel {
 public:
  /// request.model: a llava_onevision checkpoint folder with tokenizer.json,
  /// a ChatML chat template and preprocessor_config.json; its method, layer,
  /// ratio and options as `laco run` takes them. A method with weights gets
  /// them from its initialisation: the checkpoint does not hold them.
  static ChatModel load(const RunRequest& request);
  /// The run `load` would build, resolved and checked (the folder's config,
  /// tokenizer, chat template and image processor; method, placement, ratio)
  /// without building the model or reading its weights.
  static RunSpec resolve(const RunRequest& request);
  /// The vision tower's depth of the folder's checkpoint (placements resolve against it).
  static int64_t encoder_depth(const std::string& dir);

  ChatAnswer answer(const std::string& image_path, const std::string& question, int64_t max_new_tokens = 64,
                    const std::string& system = kChatDefaultSystem) const;
  /// The qwen_1_5 prompt's ids before `<image>` is expanded (laco tokenize --chat).
  std::vector<int64_t> prompt_ids(const std::string& question, const std::string& system, bool image) const;

  const RunSpec& spec() const;
  /// Provenance: the checkpoint (files, digest, skipped tensors), tokenizer, template, processor, method.
  const nlohmann::json& facts() const;

  ChatModel(ChatModel&&) noexcept;
  ChatModel& operator=(ChatModel&&) noexcept;
  ~ChatModel();

 private:
  ChatModel();
  struct State;
  std::unique_ptr<State> s_;
};

/// ChatAnswer as JSON (-o json of `laco generate`).
nlohmann::json to_json(const ChatAnswer& a);

}  // namespace laco
