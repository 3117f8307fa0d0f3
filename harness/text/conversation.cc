#include "harness/text/conversation.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {
namespace {

// Python's str.strip(): the whitespace of ASCII (what LLaVA's data holds around `<image>`).
std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

std::string replace_all(std::string s, const std::string& what, const std::string& with) {
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
  return s;
}

// LLaVA's `roles` map: human -> user, gpt -> assistant; the chat roles as they are.
std::string chat_role(const std::string& from) { return from == "human" ? "user" : from == "gpt" ? "assistant" : from; }

}  // namespace

const std::vector<std::string>& conversation_roles() {
  static const std::vector<std::string> roles = {"human", "gpt", "user", "assistant", "system"};
  return roles;
}

std::string llava_move_image_token(const std::string& value) {
  std::string v = value;
  if (count_of(v, kChatImageToken) == 1 && v.rfind(kChatImageToken, 0) != 0) {
    v = strip(replace_all(v, kChatImageToken, ""));
    v = strip(std::string(kChatImageToken) + "\n" + v);
  }
  return replace_all(v, "QA_GT_caption_based_noisy", "");
}

LabeledIds llava_qwen_labels(const ChatTokenizer& t, const Conversation& c, const std::string& system,
                             const std::string& where) {
  std::vector<ConversationTurn> turns = c.turns;
  size_t images = 0;
  for (auto& turn : turns) {
    if (std::find(conversation_roles().begin(), conversation_roles().end(), turn.from) == conversation_roles().end())
      fail("{}: a turn's \"from\" is '{}' (allowed: {})", where, turn.from, join(conversation_roles()));
    const size_t n = count_of(turn.value, kChatImageToken);
    if (n > 0 && chat_role(turn.from) != "user")
      fail("{}: '<image>' stands in a '{}' turn (allowed: a human turn)", where, turn.from);
    images += n;
    turn.value = llava_move_image_token(turn.value);
  }
  if (images != 1)
    fail("{}: {} '<image>' placeholders (allowed: exactly one, in a human turn: one image per conversation)", where,
         images);
  if (!turns.empty() && chat_role(turns.front().from) != "user") turns.erase(turns.begin());
  if (turns.empty()) fail("{}: no turn after the leading non-human one (allowed: a human turn, then answers)", where);
  // The '<image>' was in the dropped turn only if that turn was a human one, which is never dropped.

  const std::vector<int64_t> newline = t.tokenizer.encode("\n");
  if (newline.size() != 1 || newline.front() != 198)
    fail("{}: the tokenizer encodes \"\\n\" as {} but LLaVA's preprocess_qwen unmasks id 198 (Qwen2's \"\\n\"); "
         "its labels would not be LLaVA's (allowed: a Qwen2 tokenizer)",
         t.file, fmt::format("[{}]", fmt::join(newline, ", ")));
  auto message = [&](const std::string& role, const std::string& text) {
    return t.tokenizer.encode("<|im_start|>" + role + "\n" + text + "<|im_end|>\n");
  };
  LabeledIds out;
  auto append = [&](const std::vector<int64_t>& ids, bool learn) {
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    if (learn) out.labels.insert(out.labels.end(), ids.begin(), ids.end());
    else out.labels.insert(out.labels.end(), ids.size(), kIgnoreLabel);
  };
  append(message("system", system), false);
  for (const auto& turn : turns) {
    const std::string role = chat_role(turn.from);
    append(message(role, turn.value), role != "user" && role != "system");
  }
  for (size_t i = 0; i < out.ids.size(); ++i) {
    const int64_t id = out.ids[i];
    if (id == 198 || id == t.im_start || id == t.im_end) out.labels[i] = id;
  }
  return out;
}

}  // namespace laco
