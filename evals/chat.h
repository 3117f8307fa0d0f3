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
#include "harness/image/llava_processor.h"
#include "harness/model/checkpoint.h"
#include "harness/model/mllm.h"
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

/// A llava_onevision folder's parts a chat model is made of, each checked
/// against the others (the tokenizer's `<image>` and the config's, the
/// processor's crop and pinpoints and the vision tower's), and the model's
/// options. A folder that holds a fine-tuned compressor (config.json's
/// laco_compressor, harness/model/checkpoint_save.h) is read with it.
struct ChatFolder {
  CheckpointConfig config;
  ChatTokenizer text;
  ImageProcessorConfig processor;
  MllmOptions options;
};
/// Usage: ChatFolder f = read_chat_folder("ov/"); (an Error naming the folder and the part)
ChatFolder read_chat_folder(const std::string& dir);

/// The request as the folder's fine-tuned compressor fixes it: its method,
/// options, placement, ratio, grid policy, initialisation and projector are
/// the folder's (the request must name the same method, or the Error says
/// which to name). A folder without one returns the request as it is.
RunRequest folder_request(const RunRequest& request, const CheckpointConfig& config);

/// An Error, unless request.allow_untrained, when the request's method has
/// weights that must be trained and `config` does not hold them fine-tuned:
/// inserted untrained into a released model it answers nothing the method
/// would (LaCo with a zero MLP is its average-pool shortcut alone).
void check_trained_method(const RunRequest& request, const CheckpointConfig& config);

/// The model of a chat folder with the run's method inserted and every
/// weight loaded (a fine-tuned compressor's from the folder; a method the
/// folder does not hold keeps its initialisation, drawn from the run's seed),
/// in eval mode; `facts` receives the checkpoint's provenance.
Mllm build_chat_model(const ChatFolder& folder, const RunSpec& spec, nlohmann::json& facts);

/// Usage: auto m = ChatModel::load(request); auto a = m.answer("cat.jpg", "What is this?");
class ChatModel {
 public:
  /// request.model: a llava_onevision checkpoint folder with tokenizer.json,
  /// a ChatML chat template and preprocessor_config.json; its method, layer,
  /// ratio and options as `laco run` takes them. A method with weights gets
  /// them from the folder when it holds them fine-tuned (folder_request),
  /// else from its initialisation, which check_trained_method refuses unless
  /// request.allow_untrained.
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
  /// The model (the fine-tune's round-trip test reads its logits).
  MllmImpl& model() const;
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
