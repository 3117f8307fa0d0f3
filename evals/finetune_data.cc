#include "evals/finetune_data.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "evals/chat.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "harness/image/image.h"
#include "harness/model/mllm.h"

namespace laco {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxTurns = 1000;

std::string parse_conversation(const std::string& line, const fs::path& images, Conversation& out) {
  nlohmann::json j;
  if (const std::string problem = parse_json(line, j); !problem.empty()) return "not valid JSON: " + problem;
  if (!j.is_object()) return "must be a JSON object";
  if (j.contains("id")) {
    if (j["id"].is_string()) out.id = j["id"].get<std::string>();
    else if (j["id"].is_number_integer()) out.id = std::to_string(j["id"].get<int64_t>());
    else return fmt::format("field 'id' must be a string or an integer, got {}", j["id"].type_name());
  }
  if (!j.contains("image"))
    return "missing field 'image' (allowed: one image file per conversation; text-only conversations are not "
           "supported)";
  if (!j["image"].is_string())
    return fmt::format("field 'image' must be one file name (a string), got {} (multi-image conversations are not "
                       "supported)",
                       j["image"].type_name());
  const std::string image = j["image"].get<std::string>();
  if (image.empty()) return "field 'image' is empty";
  const fs::path resolved = fs::path(image).is_absolute() ? fs::path(image) : images / image;
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec))
    return fmt::format("image '{}' ({}) is not there (allowed: a PNG or JPEG file)", image, resolved.string());
  out.image = resolved.string();
  if (!j.contains("conversations")) return "missing field 'conversations'";
  const auto& turns = j["conversations"];
  if (!turns.is_array() || turns.empty() || turns.size() > kMaxTurns)
    return fmt::format("field 'conversations' must be a list of 1..{} turns", kMaxTurns);
  for (size_t i = 0; i < turns.size(); ++i) {
    const auto& t = turns[i];
    if (!t.is_object()) return fmt::format("conversations[{}] must be an object", i);
    const bool llava = t.contains("from") || t.contains("value");
    const char* role_key = llava ? "from" : "role";
    const char* text_key = llava ? "value" : "content";
    if (!t.contains(role_key) || !t[role_key].is_string() || !t.contains(text_key) || !t[text_key].is_string())
      return fmt::format("conversations[{}] needs string fields 'from' and 'value' (or 'role' and 'content')", i);
    ConversationTurn turn{t[role_key].get<std::string>(), t[text_key].get<std::string>()};
    const auto& roles = conversation_roles();
    if (std::find(roles.begin(), roles.end(), turn.from) == roles.end())
      return fmt::format("conversations[{}].{} is '{}' (allowed: {})", i, role_key, turn.from, join(roles));
    out.turns.push_back(std::move(turn));
  }
  return "";
}

}  // namespace

ConversationFile load_conversations(const std::string& path, const std::string& image_folder) {
  if (path.empty()) fail("--data: a fine-tune needs a conversation JSONL (docs/training.md)");
  check_regular_file(path);
  ConversationFile f;
  f.path = path;
  f.sha256 = file_sha256(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  const fs::path images = image_folder.empty() ? fs::path(path).parent_path() : fs::path(image_folder);
  LineProblems problems(path);
  std::set<std::string> ids;
  std::string line;
  for (int64_t number = 1; read_bounded_line(in, line, path, number); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    Conversation c;
    std::string problem = parse_conversation(line, images, c);
    if (problem.empty() && c.id.empty()) c.id = fmt::format("line-{}", number);
    if (problem.empty() && !ids.insert(c.id).second)
      problem = fmt::format("duplicate id '{}' (each conversation's id must be unique in the file)", c.id);
    if (problem.empty()) {
      f.conversations.push_back(std::move(c));
      f.lines.push_back(number);
    } else {
      problems.add(number, problem);
    }
  }
  problems.throw_if_any("nothing was trained");
  if (f.conversations.empty()) fail("{}: holds no conversations", path);
  return f;
}

FinetuneExample make_example(const ChatFolder& folder, const MllmImpl& model, const Conversation& c,
                             int64_t max_length, const std::string& where) {
  if (max_length < 2) fail("max_length: must be >= 2, got {}", max_length);
  LabeledIds text = llava_qwen_labels(folder.text, c, kChatDefaultSystem, where);
  // LLaVA cuts twice: its collator the text to model_max_length, then
  // prepare_inputs_labels_for_multimodal the sequence with the image expanded.
  const auto text_length = static_cast<int64_t>(text.ids.size());
  const bool text_cut = text_length > max_length;
  if (text_cut) {
    text.ids.resize(static_cast<size_t>(max_length));
    text.labels.resize(static_cast<size_t>(max_length));
  }
  FinetuneExample e;
  const Image image = read_image(c.image);
  const ProcessedImage p = process_image(image, folder.processor);
  e.crops = p.pixel_values;
  e.layout = AnyresLayout{p.height, p.width, p.rows, p.cols, folder.config.anyres_max_tiles};
  const int64_t visual = anyres_tokens(model.anyres_tile_grid(), e.layout, true);
  for (size_t i = 0; i < text.ids.size(); ++i) {
    if (text.ids[i] != folder.text.image) {
      e.input_ids.push_back(text.ids[i]);
      e.labels.push_back(text.labels[i]);
      continue;
    }
    e.image_start = static_cast<int64_t>(e.input_ids.size());
    e.input_ids.insert(e.input_ids.end(), static_cast<size_t>(visual), folder.text.image);
    e.labels.insert(e.labels.end(), static_cast<size_t>(visual), kIgnoreLabel);
    e.image_tokens = visual;
  }
  e.full_length = text_length - 1 + visual;  // as if nothing were cut
  e.truncated = text_cut;
  if (static_cast<int64_t>(e.input_ids.size()) > max_length) {
    e.truncated = true;
    e.input_ids.resize(static_cast<size_t>(max_length));
    e.labels.resize(static_cast<size_t>(max_length));
    if (e.image_tokens > 0) e.image_tokens = std::clamp<int64_t>(max_length - e.image_start, 0, visual);
  }
  for (size_t q = 0; q + 1 < e.labels.size(); ++q) e.supervised += e.labels[q + 1] != kIgnoreLabel;
  return e;
}

}  // namespace laco
