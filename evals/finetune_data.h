// A fine-tune's training data: conversations in LLaVA's layout, one JSON
// object per line (LLaVA's own files are one JSON list; `jq -c '.[]'` turns
// one into this), and what one conversation becomes for the model:
//
//   {"id": "000001", "image": "coco/000001.jpg",
//    "conversations": [{"from": "human", "value": "<image>\nWhat is on the table?"},
//                      {"from": "gpt", "value": "A red cup."}, ...]}
//
// Images are read relative to the image folder (the JSONL's own folder
// unless given), as LLaVA's --image_folder. Turns may also be written
// {"role", "content"}, which preprocess_qwen also reads. Other fields
// (LLaVA's data carries "data_source", "metadata", ...) are ignored. One
// image per conversation; text-only and multi-image conversations are
// refused by name (their handling in LLaVA differs and is not modelled).
// Every line is checked before anything trains: problems are reported
// together, each with file:line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "harness/model/anyres.h"
#include "harness/text/conversation.h"

namespace laco {

struct ChatFolder;
class MllmImpl;

struct ConversationFile {
  std::string path;
  std::string sha256;
  std::vector<Conversation> conversations;  ///< in the file's order
  std::vector<int64_t> lines;               ///< each one's line number
};

/// Usage: auto f = load_conversations("train.jsonl", ""); f.conversations.size();
ConversationFile load_conversations(const std::string& path, const std::string& image_folder);

/// One conversation as the model trains on it: preprocess_qwen's ids and
/// labels with `<image>` expanded to the image's packed tokens (labels
/// -100), then cut to the first max_length positions (LLaVA's
/// prepare_inputs_labels_for_multimodal cuts the embeddings and labels after
/// the expansion, so a cut may fall inside the image's tokens).
struct FinetuneExample {
  std::vector<int64_t> input_ids;  ///< the image's positions hold the `<image>` id
  std::vector<int64_t> labels;
  int64_t image_start = 0;    ///< the first image position
  int64_t image_tokens = 0;   ///< the image's packed tokens kept after the cut
  int64_t full_length = 0;    ///< positions before the cut
  bool truncated = false;
  int64_t supervised = 0;  ///< positions p whose next label (p + 1) is not -100: the loss's terms
  torch::Tensor crops;     ///< the image processor's [1 + tiles, 3, S, S]
  AnyresLayout layout;
};

/// Usage: auto e = make_example(folder, *model, file.conversations[i], 8192, "train.jsonl:3");
FinetuneExample make_example(const ChatFolder& folder, const MllmImpl& model, const Conversation& c,
                             int64_t max_length, const std::string& where);

}  // namespace laco
