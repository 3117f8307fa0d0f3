#include "harness/text/chat.h"

#include <filesystem>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"

namespace laco {
namespace fs = std::filesystem;

std::string chat_prompt(const std::string& question, const std::string& system, bool image) {
  std::string p;
  if (!system.empty()) p += "<|im_start|>system\n" + system + "<|im_end|>\n";
  p += "<|im_start|>user\n";
  if (image) p += std::string(kChatImageToken) + "\n";
  p += question + "<|im_end|>\n<|im_start|>assistant\n";
  return p;
}

namespace {

// What ChatML writes, as it appears in a Jinja template's string literals.
// The generation prompt is written with a newline inside the literal (JSON's
// "\n", decoded), or, in some templates, as the escape sequence itself.
void check_chatml(const std::string& text, const std::string& file, const std::string& field) {
  const bool starts = text.find("<|im_start|>") != std::string::npos;
  const bool ends = text.find("<|im_end|>") != std::string::npos;
  const bool generation = text.find("<|im_start|>assistant\n") != std::string::npos ||
                          text.find("<|im_start|>assistant\\n") != std::string::npos;
  if (starts && ends && generation) return;
  std::string missing;
  for (auto [ok, what] : {std::pair<bool, const char*>{starts, "'<|im_start|>'"},
                          {ends, "'<|im_end|>'"},
                          {generation, "the generation prompt '<|im_start|>assistant\\n'"}})
    if (!ok) missing += (missing.empty() ? "" : ", ") + std::string(what);
  fail("{}: {} is not a ChatML template (it lacks {}); LLaVA-OneVision-Qwen2 was trained with ChatML (LLaVA-NeXT's "
       "qwen_1_5), and the harness does not guess another model's prompt (allowed: a ChatML template)",
       file, field, missing);
}

}  // namespace

ChatTemplateCheck check_chat_template(const std::string& dir) {
  const std::string own = (fs::path(dir) / "chat_template.json").string();
  const std::string config = (fs::path(dir) / "tokenizer_config.json").string();
  if (fs::exists(own)) {
    const auto j = read_json_file(own);
    if (!j.is_object() || !j.contains("chat_template") || !j["chat_template"].is_string())
      fail("{}: $.chat_template: missing or not a string (a processor's chat_template.json holds the template there)", own);
    check_chatml(j["chat_template"].get<std::string>(), own, "$.chat_template");
    return {own, "$.chat_template"};
  }
  if (!fs::exists(config))
    fail("{}: no chat template: neither chat_template.json nor tokenizer_config.json is there (a released model's "
         "folder has one of them; the harness checks it is ChatML before it writes the prompt)",
         dir);
  const auto j = read_json_file(config);
  if (!j.is_object() || !j.contains("chat_template"))
    fail("{}: $.chat_template: missing, and there is no chat_template.json beside it (allowed: a ChatML template in "
         "either)",
         config);
  const auto& t = j["chat_template"];
  if (t.is_string()) {
    check_chatml(t.get<std::string>(), config, "$.chat_template");
    return {config, "$.chat_template"};
  }
  if (t.is_array()) {  // named templates: [{"name": "default", "template": "..."}, ...]
    for (size_t i = 0; i < t.size(); ++i) {
      const auto& e = t[i];
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string()) {
        const std::string field = fmt::format("$.chat_template[{}].template", i);
        check_chatml(e["template"].get<std::string>(), config, field);
        return {config, field};
      }
    }
    fail("{}: $.chat_template: a list of named templates without one named 'default' (allowed: a string, or a list "
         "holding {{\"name\": \"default\", \"template\": ...}})",
         config);
  }
  fail("{}: $.chat_template: must be a string or a list of named templates, got {}", config, t.type_name());
}

BpeTokenizer load_folder_tokenizer(const std::string& dir) {
  const std::string file = (fs::path(dir) / "tokenizer.json").string();
  if (!fs::exists(file))
    fail("{}: missing: the folder has no tokenizer (a released model's folder has tokenizer.json, Hugging Face's "
         "fast-tokenizer file; vocab.json + merges.txt alone are not read)",
         file);
  return BpeTokenizer::load(file);
}

ChatTokenizer load_chat_tokenizer(const std::string& dir) {
  ChatTokenizer t{load_folder_tokenizer(dir), 0, 0, 0, {}, (fs::path(dir) / "tokenizer.json").string()};
  for (auto [slot, token] : {std::pair<int64_t*, const char*>{&t.im_start, "<|im_start|>"},
                             {&t.im_end, "<|im_end|>"},
                             {&t.image, kChatImageToken}}) {
    bool found = false;
    for (const auto& a : t.tokenizer.added_tokens())
      if (a.content == token) *slot = a.id, found = true;
    if (!found)
      fail("{}: $.added_tokens: no added token '{}' (LLaVA-OneVision-Qwen2's tokenizer adds <|endoftext|>, "
           "<|im_start|>, <|im_end|>, <image> and <video>)",
           t.file, token);
  }
  t.chat_template = check_chat_template(dir);
  return t;
}

}  // namespace laco
