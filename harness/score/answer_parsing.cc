#include "harness/score/answer_parsing.h"

#include <utility>

#include <utf8proc.h>

#include "harness/base/error.h"

namespace laco {
namespace {

// One code point decoded at byte `at` of UTF-8 text, with its byte length. A
// byte that starts no valid sequence counts as one code point of its own value
// (lmms-eval's strings are decoded already; ours may be any bytes).
std::pair<char32_t, size_t> decode_at(const std::string& text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(at);
  size_t len = 1;
  char32_t cp = b0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
  } else {
    return {b0, 1};
  }
  if (at + len > text.size()) return {b0, 1};
  for (size_t i = 1; i < len; ++i) {
    const unsigned char b = byte(at + i);
    if ((b & 0xC0u) != 0x80u) return {b0, 1};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {cp, len};
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The byte offset of code point `index` of text (text.size() past its end).
size_t byte_offset(const std::string& text, size_t index) {
  size_t at = 0;
  for (size_t i = 0; i < index && at < text.size(); ++i) at += decode_at(text, at).second;
  return at;
}

// The byte offset where the code point ending just before byte `end` starts.
size_t start_of_last(const std::string& text, size_t end) {
  size_t at = end - 1;
  // Step back over continuation bytes (at most three), then check that the
  // sequence found really ends at `end`; otherwise the last byte stands alone.
  for (size_t back = 0; back < 3 && at > 0 && (static_cast<unsigned char>(text[at]) & 0xC0u) == 0x80u; ++back) --at;
  return at + decode_at(text, at).second == end ? at : end - 1;
}

// Python's str.isspace() for one code point.
bool py_isspace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

}  // namespace

std::string py_strip(const std::string& text) {
  size_t begin = 0, end = text.size();
  while (begin < end) {
    const auto [cp, len] = decode_at(text, begin);
    if (!py_isspace(cp)) break;
    begin += len;
  }
  while (end > begin) {
    const size_t at = start_of_last(text, end);
    if (!py_isspace(decode_at(text, at).first)) break;
    end = at;
  }
  return text.substr(begin, end - begin);
}

std::string py_strip_char(const std::string& text, char c) {
  const size_t begin = text.find_first_not_of(c);
  if (begin == std::string::npos) return "";
  const size_t end = text.find_last_not_of(c);
  return text.substr(begin, end - begin + 1);
}

std::vector<std::string> py_split(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  for (size_t at = 0; at < text.size();) {
    const auto [cp, len] = decode_at(text, at);
    if (py_isspace(cp)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += text.substr(at, len);
    }
    at += len;
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

std::string py_lower(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const auto [cp, len] = decode_at(text, at);
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp);
    } else if (len == 1) {
      out += text[at];  // a byte that is no UTF-8: kept as it is
    } else if (cp == 0x130) {
      out += "i\xCC\x87";  // SpecialCasing: U+0130 lowers to "i" + U+0307
    } else {
      append_utf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    at += len;
  }
  return out;
}

std::string py_replace(const std::string& text, const std::string& from, const std::string& to) {
  return from.empty() ? text : replace_every(text, from, to);
}

std::string py_prefix(const std::string& text, size_t n) {
  size_t at = 0;
  for (size_t i = 0; i < n && at < text.size(); ++i) at += decode_at(text, at).second;
  return text.substr(0, at);
}

size_t py_len(const std::string& text) {
  size_t n = 0;
  for (size_t at = 0; at < text.size(); ++n) at += decode_at(text, at).second;
  return n;
}

std::string first_code_point(const std::string& text) { return py_prefix(text, 1); }

bool py_isalpha(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}

std::string option_letter(size_t index) { return std::string(1, static_cast<char>('A' + index)); }

std::optional<size_t> answer_letter_index(const std::string& answer, size_t options) {
  if (answer.size() != 1 || answer[0] < 'A' || answer[0] > 'Z') return std::nullopt;
  const auto index = static_cast<size_t>(answer[0] - 'A');
  if (index >= options) return std::nullopt;
  return index;
}

const std::string& single_answer(const std::vector<std::string>& answers, const std::string& task,
                                 const std::string& id) {
  if (answers.size() != 1)
    fail("{} question '{}': expected one reference answer, found {}", task, id, answers.size());
  return answers.front();
}

bool option_is_absent(const std::string& text) { return text.empty() || text == "nan"; }

std::string mmbench_infer_option(const std::string& response) {
  // can_infer_option(answer, num_choice=5): can_infer calls it with the
  // default, so the letters are A-E whatever the question's option count.
  static const std::string kChoices = "ABCDE";
  if (response.find("Failed to obtain answer via API") != std::string::npos) return "";
  const std::vector<std::string> words = py_split(response);
  const auto has = [&](const std::string& w) {
    for (const auto& x : words)
      if (x == w) return true;
    return false;
  };
  const auto count = [&](const std::string& prefix, const std::string& suffix) {
    int n = 0;
    for (char c : kChoices)
      if (has(prefix + c + suffix)) ++n;
    return n;
  };
  // A bare letter as a word, when exactly one letter is; but "A" in a
  // response of more than three words may be the article, so then the bare
  // letters are not trusted and only the decorated forms below are.
  if (count("", "") == 1 && !(has("A") && words.size() > 3))
    for (char c : kChoices)
      if (has(std::string(1, c))) return std::string(1, c);
  static const std::vector<std::pair<std::string, std::string>> kDecorations = {
      {"", "."}, {"", ","}, {"", ":"}, {"", ")"}, {"", ")."}, {"(", ")"},
      {"(", ")."}, {":", ""}, {":", ","}, {":", "."}, {":", ")"}, {":", ")."}};
  for (const auto& [prefix, suffix] : kDecorations)
    if (count(prefix, suffix) == 1)
      for (char c : kChoices)
        if (has(prefix + c + suffix)) return std::string(1, c);
  return "";
}

std::string mmbench_infer_text(const std::string& response,
                               const std::vector<std::pair<std::string, std::string>>& choices) {
  const std::string answer = py_lower(response);
  std::string found;
  int n = 0;
  for (const auto& [letter, text] : choices)
    if (answer.find(py_lower(text)) != std::string::npos) {
      found = letter;
      ++n;
    }
  return n == 1 ? found : "";
}

std::string extract_mcq_answer(const std::string& response, const std::vector<std::string>& choices_in) {
  static const std::vector<std::string> kDefaultChoices = {"A", "B", "C", "D", "E", "F", "G", "H"};
  // Its answer phrases, in its order (the order matters only for which of
  // equal candidates comes first; the result is the same letter either way).
  static const std::vector<std::string> kPhrases = {
      "the answer is", "answer is", "the correct answer is", "correct answer is", "the best answer is",
      "best answer is", "the correct option is", "correct option is", "the best option is", "best option is",
      "the choice is", "choice is", "the correct choice is", "correct choice is", "i choose", "i select",
      "i pick", "my answer is", "my choice is",
      "\xEC\x98\xB5\xEC\x85\x98",              // 옵션
      "\xEC\xA0\x95\xEB\x8B\xB5\xEC\x9D\x80",  // 정답은
      "\xEB\x8B\xB5\xEC\x9D\x80",              // 답은
      "\xEB\x8B\xB5:",                         // 답:
      "\xE7\xAD\x94\xE6\xA1\x88\xE6\x98\xAF",  // 答案是
      "\xE7\xAD\x94\xE6\xA1\x88\xE4\xB8\xBA",  // 答案为
      "\xE9\x80\x89",                          // 选
      "\xE7\xAD\x94\xE3\x81\x88\xE3\x81\xAF",  // 答えは
  };
  enum Priority { kFallback = 0, kSpace = 2, kRightParen = 3, kColon = 4, kPeriod = 5, kParens = 6, kPhrase = 7,
                  kEnd = 9, kStart = 10 };
  struct Candidate {
    std::string letter;
    size_t position;
    int priority;
  };
  if (py_strip(response).empty()) return "";
  // `choices or _DEFAULT_CHOICES`: an empty list means the default too.
  const std::vector<std::string>& choices = choices_in.empty() ? kDefaultChoices : choices_in;

  std::string text = py_strip(response);
  for (char c : {',', '.', '!', '?', ';', ':', '\'', '"'}) text = py_strip_char(text, c);
  text = " " + text + " ";

  // Positions are byte offsets where Python has code-point offsets: both
  // order the candidates alike, which is all they are used for.
  std::vector<Candidate> candidates;
  const auto add_last = [&](const std::string& pattern, const std::string& letter, int priority) {
    const size_t at = text.rfind(pattern);
    if (at != std::string::npos) candidates.push_back({letter, at, priority});
  };
  for (const auto& ch : choices) add_last("(" + ch + ")", ch, kParens);
  for (const auto& ch : choices) add_last(ch + ".", ch, kPeriod);
  for (const auto& ch : choices) add_last(ch + ":", ch, kColon);
  for (const auto& ch : choices) add_last(ch + ")", ch, kRightParen);
  for (const auto& ch : choices) add_last(ch + " ", ch, kSpace);

  // After the first occurrence of each phrase (matched lower-cased), the
  // first occurrence of each letter (matched as written). Python takes the
  // phrase's code-point index in the lower-cased text as an index into the
  // text; so does this (lower-casing may change a code point's byte length).
  const std::string lower = py_lower(text);
  for (const auto& phrase : kPhrases) {
    const size_t at = lower.find(phrase);
    if (at == std::string::npos) continue;
    const size_t after = byte_offset(text, py_len(lower.substr(0, at)) + py_len(phrase));
    for (const auto& ch : choices) {
      const size_t pos = text.find(ch, after);
      if (pos != std::string::npos) candidates.push_back({ch, pos, kPhrase});
    }
  }

  // A standalone letter at the start or the end: not followed (preceded) by a letter.
  const std::string stripped = py_strip(text);
  for (const auto& ch : choices)
    if (stripped.compare(0, ch.size(), ch) == 0 &&
        (py_len(stripped) == 1 || !py_isalpha(decode_at(stripped, first_code_point(stripped).size()).first)))
      candidates.push_back({ch, 0, kStart});
  for (const auto& ch : choices)
    if (stripped.size() >= ch.size() && stripped.compare(stripped.size() - ch.size(), ch.size(), ch) == 0 &&
        (py_len(stripped) == 1 ||
         !py_isalpha(decode_at(stripped, start_of_last(stripped, stripped.size() - ch.size())).first)))
      candidates.push_back({ch, text.size() - 1, kEnd});

  if (candidates.empty())
    for (const auto& ch : choices) add_last(ch, ch, kFallback);
  if (candidates.empty()) return "";

  // Its stable sort by (priority, position) descending keeps the first of
  // equal keys first: the first strictly greatest here.
  const Candidate* best = &candidates.front();
  for (const auto& c : candidates)
    if (c.priority > best->priority || (c.priority == best->priority && c.position > best->position)) best = &c;
  return best->letter;
}

}  // namespace laco
