// The text side of a released LLaVA-OneVision checkpoint folder: its
// tokenizer (tokenizer.json) and the prompt it was trained and is evaluated
// with. LLaVA-OneVision was trained with LLaVA-NeXT's `qwen_1_5`
// conversation template, and lmms-eval's llava_onevision model sends it:
//
//   <|im_start|>system\nYou are a helpful assistant.<|im_end|>\n
//   <|im_start|>user\n<image>\n{question}<|im_end|>\n<|im_start|>assistant\n
//
// (LLaVA-NeXT's conv_qwen_1_5, sep_style CHATML: an empty system drops the
// system turn; lmms-eval puts the image token and a newline before the
// question.) transformers' llava-hf conversion ships a Jinja chat template
// instead; it is not run here (no Jinja engine), it is checked: the folder's
// template (chat_template.json, else tokenizer_config.json's chat_template)
// must be ChatML, else the prompt above would not be what the folder's
// authors meant, and that is an Error rather than a guess.
#pragma once

#include <cstdint>
#include <string>

#include "harness/text/bpe_tokenizer.h"

namespace laco {

/// qwen_1_5's system text (LLaVA-NeXT conversation.py).
inline constexpr const char* kChatDefaultSystem = "You are a helpful assistant.";
/// The placeholder the prompt holds where the image's tokens go.
inline constexpr const char* kChatImageToken = "<image>";

/// The qwen_1_5 prompt for one question about one image (`image` false: no
/// `<image>\n` line); `system` "" drops the system turn, as LLaVA's CHATML
/// style does. Usage: auto p = chat_prompt("What is shown?", kChatDefaultSystem);
std::string chat_prompt(const std::string& question, const std::string& system, bool image = true);

/// Where a folder's chat template came from and what it is.
struct ChatTemplateCheck {
  std::string file;   ///< ".../chat_template.json" or ".../tokenizer_config.json"
  std::string field;  ///< "$.chat_template" or "$.chat_template[name=default].template"
};

/// Checks that `dir`'s chat template is ChatML: it writes `<|im_start|>`
/// before each role, `<|im_end|>` after each message and the generation
/// prompt `<|im_start|>assistant` + newline. No template, or another one (a
/// Llama, Vicuna or Gemma template), is an Error naming the file and field.
ChatTemplateCheck check_chat_template(const std::string& dir);

/// A checkpoint folder's tokenizer with the ids its chat needs.
struct ChatTokenizer {
  BpeTokenizer tokenizer;
  int64_t im_start = 0, im_end = 0, image = 0;  ///< `<|im_start|>`, `<|im_end|>`, `<image>`
  ChatTemplateCheck chat_template;
  std::string file;  ///< the tokenizer.json read
};

/// `dir`/tokenizer.json; a folder without it is an Error naming the file.
/// Usage: auto ids = load_folder_tokenizer(dir).encode("Hello");
BpeTokenizer load_folder_tokenizer(const std::string& dir);

/// Reads `dir`/tokenizer.json and checks the chat template; a folder without
/// tokenizer.json, or whose tokenizer lacks one of the three added tokens, is
/// an Error naming the file. Usage: auto t = load_chat_tokenizer(dir);
ChatTokenizer load_chat_tokenizer(const std::string& dir);

}  // namespace laco
