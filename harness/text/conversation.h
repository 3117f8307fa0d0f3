// The labels LLaVA trains a Qwen-based LLaVA-OneVision on: a conversation in
// LLaVA's layout (human / gpt turns, `<image>` in one human turn) turned into
// input ids and labels exactly as LLaVA-NeXT's training code does
// (llava/train/train.py @df17966: preprocess_multimodal, then preprocess_qwen):
//
//   - the turn holding the one `<image>` is rewritten "<image>\n" + the rest,
//     stripped, unless it starts with `<image>` already (preprocess_multimodal);
//     "QA_GT_caption_based_noisy" is removed from every turn, as there;
//   - a first turn that is not from the human is dropped;
//   - the system turn "<|im_start|>system\n{system}<|im_end|>\n", then each
//     turn "<|im_start|>{user|assistant|system}\n{text}<|im_end|>\n", each
//     tokenised on its own (apply_chat_template of one message);
//   - labels: -100 for the system and user turns, the ids themselves for an
//     assistant turn (its "<|im_start|>assistant\n" header and "<|im_end|>\n"
//     included); then every "\n" (id 198), `<|im_start|>` and `<|im_end|>`
//     anywhere is labelled with itself, even inside system and user turns
//     (preprocess_qwen's unmask_tokens_idx). So the loss also covers the
//     turn structure, not only the answers' words: that is LLaVA's loss, kept.
//
// `<image>` stays its id here (LLaVA writes IMAGE_TOKEN_INDEX = -200 there);
// the caller replaces it by the image's tokens, labelled -100.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/text/chat.h"

namespace laco {

/// The label of a position the loss ignores (PyTorch's and LLaVA's IGNORE_INDEX).
inline constexpr int64_t kIgnoreLabel = -100;

/// One turn as LLaVA's data holds it: "from" (human, gpt, or user, assistant,
/// system) and "value".
struct ConversationTurn {
  std::string from;
  std::string value;
};

/// One training conversation about one image.
struct Conversation {
  std::string id;
  std::string image;  ///< the image file, resolved
  std::vector<ConversationTurn> turns;
};

/// The roles a turn's "from" may take (LLaVA's names and the chat roles).
const std::vector<std::string>& conversation_roles();

/// input_ids and labels of one conversation (same length).
struct LabeledIds {
  std::vector<int64_t> ids;
  std::vector<int64_t> labels;
};

/// preprocess_multimodal of one turn's text (see the file comment).
std::string llava_move_image_token(const std::string& value);

/// The ids and labels LLaVA-NeXT's preprocess_qwen gives `c` (after
/// preprocess_multimodal). An Error naming `where` when `c` has no turn
/// after dropping a leading non-human turn, a role outside
/// conversation_roles(), or not exactly one `<image>` (in a human turn).
/// Usage: auto l = llava_qwen_labels(tokenizer, c, kChatDefaultSystem, "train.jsonl:3");
LabeledIds llava_qwen_labels(const ChatTokenizer& tokenizer, const Conversation& c, const std::string& system,
                             const std::string& where);

}  // namespace laco
