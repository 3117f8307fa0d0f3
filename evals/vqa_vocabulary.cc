#include "evals/vqa_vocabulary.h"

#include <algorithm>
#include <cctype>

#include "harness/base/error.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"

namespace laco {

int64_t VqaVocabulary::add(const std::string& word) {
  auto it = ids_.find(word);
  if (it != ids_.end()) return it->second;
  const auto id = static_cast<int64_t>(words_.size());
  words_.push_back(word);
  ids_[word] = id;
  return id;
}

void VqaVocabulary::add_answer(const std::string& family, const std::string& answer) {
  const int64_t id = add(answer);
  if (std::find(answers_.begin(), answers_.end(), id) == answers_.end()) answers_.push_back(id);
  if (family.empty()) return;
  auto& ids = family_ids_[family];
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return;
  ids.push_back(id);
  family_answers_[family].push_back(answer);
}

const VqaVocabulary& VqaVocabulary::synthvqa() {
  static const VqaVocabulary vocab = [] {
    VqaVocabulary v;
    v.add("<pad>");
    v.add("<unk>");
    // The words in this order are what every stage-0 cache was trained with.
    for (const char* q : {"what color is the large shape ?", "what shape is the large object ?",
                          "how many shapes are there ?", "where is the small shape relative to the large shape ?",
                          "what letter is written ?"})
      for (const auto& w : tokenize(q)) v.add(w);
    for (const auto& f : vqa_families())
      for (const auto& a : vqa_answers(f)) v.add_answer(f, a);
    return v;
  }();
  return vocab;
}

VqaVocabulary VqaVocabulary::from_samples(const std::vector<VqaSample>& train) {
  VqaVocabulary v;
  v.add("<pad>");
  v.add("<unk>");
  for (const auto& s : train)
    for (const auto& w : tokenize(s.question)) v.add(w);
  for (const auto& s : train) {
    const std::string answer = normalize_answer(s.answer);
    if (answer.empty()) fail("vocabulary: sample '{}' has an empty answer", s.id);
    v.add_answer(s.family, answer);
  }
  return v;
}

int64_t VqaVocabulary::id(const std::string& word) const {
  auto it = ids_.find(word);
  return it == ids_.end() ? unk() : it->second;
}

int64_t VqaVocabulary::answer_id(const std::string& answer) const {
  auto it = ids_.find(normalize_answer(answer));
  if (it == ids_.end() || std::find(answers_.begin(), answers_.end(), it->second) == answers_.end()) return -1;
  return it->second;
}

const std::vector<int64_t>& VqaVocabulary::candidates(const std::string& family) const {
  auto it = family_ids_.find(family);
  return it == family_ids_.end() ? answers_ : it->second;
}

std::vector<std::string> VqaVocabulary::tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isspace(c)) {
      flush();
    } else if (ch == '?' || ch == ',' || ch == '.') {
      flush();
      if (ch != '.') out.emplace_back(1, ch);
    } else {
      cur += static_cast<char>(std::tolower(c));
    }
  }
  flush();
  return out;
}

std::string VqaVocabulary::normalize_answer(const std::string& text) { return join(tokenize(text), " "); }

std::vector<int64_t> VqaVocabulary::encode(const std::string& question, int64_t length) const {
  const auto words = tokenize(question);
  std::vector<int64_t> ids(static_cast<size_t>(length), pad());
  const int64_t n = std::min<int64_t>(length, static_cast<int64_t>(words.size()));
  for (int64_t i = 0; i < n; ++i)
    ids[static_cast<size_t>(length - n + i)] = id(words[words.size() - static_cast<size_t>(n) + static_cast<size_t>(i)]);
  return ids;
}

nlohmann::json VqaVocabulary::to_json() const {
  std::vector<std::string> answers;
  for (int64_t id : answers_) answers.push_back(word(id));
  return {{"words", words_}, {"answers", answers}, {"families", family_answers_}};
}

std::string VqaVocabulary::sha256() const { return sha256_hex(to_json().dump()); }

nlohmann::json VqaVocabulary::summary() const {
  nlohmann::json out = {{"size", size()}, {"answers", static_cast<int64_t>(answers_.size())}, {"sha256", sha256()}};
  if (size() <= 64) out["words"] = words_;
  return out;
}

}  // namespace laco
