// Python's str semantics and the official VQA answer normalisation, as
// lmms-eval's scorers apply them (lmms-eval commit
// 75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3: lmms_eval/tasks/_task_utils/
// vqa_eval_metric.py, lmms_eval/api/metrics.py). Work is done on code points
// (std::u32string), as Python's str is, so that "followed by a digit" and
// len() mean what they mean there; strip, split and lower are
// answer_parsing.h's, the one place of those rules.
#include "harness/score/answer_normalize.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include <utf8proc.h>

#include "harness/score/answer_parsing.h"

namespace laco {
namespace {

// --- UTF-8 <-> code points ---------------------------------------------------

std::u32string decode(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t at = 0;
  const auto size = static_cast<utf8proc_ssize_t>(text.size());
  while (at < size) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(bytes + at, size - at, &cp);
    if (n <= 0) {  // an invalid byte: one U+FFFD, as Python's errors="replace" decode gives
      out.push_back(0xFFFD);
      ++at;
    } else {
      out.push_back(static_cast<char32_t>(cp));
      at += n;
    }
  }
  return out;
}

std::string encode(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  utf8proc_uint8_t buf[4];
  for (char32_t c : text) {
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

// A regex \d of Python's re on a str: any decimal digit (category Nd).
bool is_digit(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return utf8proc_category(static_cast<utf8proc_int32_t>(c)) == UTF8PROC_CATEGORY_ND;
}

// answer_parsing.h's rules on code points.
std::u32string lower(const std::u32string& text) { return decode(py_lower(encode(text))); }
std::u32string strip(const std::u32string& text) { return decode(py_strip(encode(text))); }
std::vector<std::u32string> split(const std::u32string& text) {
  std::vector<std::u32string> words;
  for (const auto& w : py_split(encode(text))) words.push_back(decode(w));
  return words;
}

std::u32string replace_all(const std::u32string& text, const std::u32string& from, const std::u32string& to) {
  return replace_every(text, from, to);  // str.replace on code points
}

// --- EvalAIAnswerProcessor's tables --------------------------------------------

// CONTRACTIONS exactly as the processor lists them, its oddities included: the
// capitalised keys ("Im", "Ive", "Id've", "I'dve") never match (words are
// lower-cased first), and "somebody'd" maps to "somebodyd".
const std::unordered_map<std::string, std::string>& contractions() {
  static const std::unordered_map<std::string, std::string> table = {
      {"aint", "ain't"}, {"arent", "aren't"}, {"cant", "can't"}, {"couldve", "could've"},
      {"couldnt", "couldn't"}, {"couldn'tve", "couldn't've"}, {"couldnt've", "couldn't've"},
      {"didnt", "didn't"}, {"doesnt", "doesn't"}, {"dont", "don't"}, {"hadnt", "hadn't"},
      {"hadnt've", "hadn't've"}, {"hadn'tve", "hadn't've"}, {"hasnt", "hasn't"}, {"havent", "haven't"},
      {"hed", "he'd"}, {"hed've", "he'd've"}, {"he'dve", "he'd've"}, {"hes", "he's"}, {"howd", "how'd"},
      {"howll", "how'll"}, {"hows", "how's"}, {"Id've", "I'd've"}, {"I'dve", "I'd've"}, {"Im", "I'm"},
      {"Ive", "I've"}, {"isnt", "isn't"}, {"itd", "it'd"}, {"itd've", "it'd've"}, {"it'dve", "it'd've"},
      {"itll", "it'll"}, {"let's", "let's"}, {"maam", "ma'am"}, {"mightnt", "mightn't"},
      {"mightnt've", "mightn't've"}, {"mightn'tve", "mightn't've"}, {"mightve", "might've"},
      {"mustnt", "mustn't"}, {"mustve", "must've"}, {"neednt", "needn't"}, {"notve", "not've"},
      {"oclock", "o'clock"}, {"oughtnt", "oughtn't"}, {"ow's'at", "'ow's'at"}, {"'ows'at", "'ow's'at"},
      {"'ow'sat", "'ow's'at"}, {"shant", "shan't"}, {"shed've", "she'd've"}, {"she'dve", "she'd've"},
      {"she's", "she's"}, {"shouldve", "should've"}, {"shouldnt", "shouldn't"},
      {"shouldnt've", "shouldn't've"}, {"shouldn'tve", "shouldn't've"}, {"somebody'd", "somebodyd"},
      {"somebodyd've", "somebody'd've"}, {"somebody'dve", "somebody'd've"}, {"somebodyll", "somebody'll"},
      {"somebodys", "somebody's"}, {"someoned", "someone'd"}, {"someoned've", "someone'd've"},
      {"someone'dve", "someone'd've"}, {"someonell", "someone'll"}, {"someones", "someone's"},
      {"somethingd", "something'd"}, {"somethingd've", "something'd've"},
      {"something'dve", "something'd've"}, {"somethingll", "something'll"}, {"thats", "that's"},
      {"thered", "there'd"}, {"thered've", "there'd've"}, {"there'dve", "there'd've"},
      {"therere", "there're"}, {"theres", "there's"}, {"theyd", "they'd"}, {"theyd've", "they'd've"},
      {"they'dve", "they'd've"}, {"theyll", "they'll"}, {"theyre", "they're"}, {"theyve", "they've"},
      {"twas", "'twas"}, {"wasnt", "wasn't"}, {"wed've", "we'd've"}, {"we'dve", "we'd've"},
      {"weve", "we've"}, {"werent", "weren't"}, {"whatll", "what'll"}, {"whatre", "what're"},
      {"whats", "what's"}, {"whatve", "what've"}, {"whens", "when's"}, {"whered", "where'd"},
      {"wheres", "where's"}, {"whereve", "where've"}, {"whod", "who'd"}, {"whod've", "who'd've"},
      {"who'dve", "who'd've"}, {"wholl", "who'll"}, {"whos", "who's"}, {"whove", "who've"},
      {"whyll", "why'll"}, {"whyre", "why're"}, {"whys", "why's"}, {"wont", "won't"},
      {"wouldve", "would've"}, {"wouldnt", "wouldn't"}, {"wouldnt've", "wouldn't've"},
      {"wouldn'tve", "wouldn't've"}, {"yall", "y'all"}, {"yall'll", "y'all'll"}, {"y'allll", "y'all'll"},
      {"yall'd've", "y'all'd've"}, {"y'alld've", "y'all'd've"}, {"y'all'dve", "y'all'd've"},
      {"youd", "you'd"}, {"youd've", "you'd've"}, {"you'dve", "you'd've"}, {"youll", "you'll"},
      {"youre", "you're"}, {"youve", "you've"},
  };
  return table;
}

// NUMBER_MAP: "none" is 0 too.
const std::unordered_map<std::string, std::string>& number_words() {
  static const std::unordered_map<std::string, std::string> table = {
      {"none", "0"}, {"zero", "0"}, {"one", "1"}, {"two", "2"}, {"three", "3"}, {"four", "4"},
      {"five", "5"}, {"six", "6"}, {"seven", "7"}, {"eight", "8"}, {"nine", "9"}, {"ten", "10"},
  };
  return table;
}

// PUNCTUATIONS, in the processor's order (the order does not change the result).
constexpr char32_t kPunctuations[] = {U';', U'/', U'[', U']', U'"', U'{', U'}', U'(', U')', U'=', U'+',
                                      U'\\', U'_', U'-', U'>', U'<', U'@', U'`', U',', U'?', U'!'};

// COMMA_STRIP, (?<=\d)(\,)+(?=\d), found anywhere: a digit, one or more commas, a digit.
bool has_digit_comma_digit(const std::u32string& text) {
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    if (!is_digit(text[i]) || text[i + 1] != U',') continue;
    size_t j = i + 1;
    while (j < text.size() && text[j] == U',') ++j;
    if (j < text.size() && is_digit(text[j])) return true;
  }
  return false;
}

std::u32string process_punctuation(const std::u32string& in) {
  const bool digit_comma = has_digit_comma_digit(in);
  std::u32string out = in;
  for (char32_t p : kPunctuations) {
    // The test reads the input, not the text as earlier replacements left it.
    const bool beside_space = in.find(std::u32string{p, U' '}) != std::u32string::npos ||
                              in.find(std::u32string{U' ', p}) != std::u32string::npos;
    out = replace_all(out, std::u32string(1, p), (beside_space || digit_comma) ? U"" : U" ");
  }
  // PERIOD_STRIP, (?!<=\d)(\.)(?!\d): its first group is a look-ahead for "<="
  // and a digit (a mistyped look-behind), always true at a '.', so it deletes
  // every '.' not followed by a digit; the processor passes re.UNICODE (32)
  // where Pattern.sub takes its count, so at most the first 32 go.
  std::u32string stripped;
  stripped.reserve(out.size());
  int removed = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const bool period = out[i] == U'.' && (i + 1 == out.size() || !is_digit(out[i + 1]));
    if (period && removed < 32) {
      ++removed;
      continue;
    }
    stripped.push_back(out[i]);
  }
  return stripped;
}

std::u32string process_digit_article(const std::u32string& in) {
  std::vector<std::string> words;
  for (const auto& w : split(lower(in))) {
    std::string word = encode(w);
    const auto number = number_words().find(word);
    if (number != number_words().end()) word = number->second;
    if (word == "a" || word == "an" || word == "the") continue;
    words.push_back(std::move(word));
  }
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    const auto c = contractions().find(words[i]);
    if (i) out += ' ';
    out += c == contractions().end() ? words[i] : c->second;
  }
  return decode(out);
}

std::u32string word_tokenize(const std::u32string& in) {
  std::u32string t = lower(in);
  t = replace_all(t, U",", U"");
  t = replace_all(t, U"?", U"");
  t = replace_all(t, U"'s", U" 's");
  return strip(t);
}

// How many code points text.upper() gives for c: SpecialCasing.txt's
// unconditional uppercase mappings of more than one code point.
size_t upper_length(char32_t c) {
  switch (c) {
    case 0xDF: case 0x149: case 0x1F0: case 0x587: case 0x1E96: case 0x1E97: case 0x1E98: case 0x1E99:
    case 0x1E9A: case 0xFB00: case 0xFB01: case 0xFB02: case 0xFB05: case 0xFB06: case 0xFB13:
    case 0xFB14: case 0xFB15: case 0xFB16: case 0xFB17: case 0x1F50: case 0x1FB2: case 0x1FB3:
    case 0x1FB4: case 0x1FB6: case 0x1FBC: case 0x1FC2: case 0x1FC3: case 0x1FC4: case 0x1FC6:
    case 0x1FCC: case 0x1FD6: case 0x1FE4: case 0x1FE6: case 0x1FF2: case 0x1FF3: case 0x1FF4:
    case 0x1FF6: case 0x1FFC:
      return 2;
    case 0x390: case 0x3B0: case 0xFB03: case 0xFB04: case 0x1F52: case 0x1F54: case 0x1F56:
    case 0x1FB7: case 0x1FC7: case 0x1FD2: case 0x1FD3: case 0x1FD7: case 0x1FE2: case 0x1FE3:
    case 0x1FE7: case 0x1FF7:
      return 3;
    default:
      return (c >= 0x1F80 && c <= 0x1FAF) ? 2 : 1;  // Greek with ypogegrammeni: letter + IOTA
  }
}

}  // namespace

size_t py_upper_length(const std::string& text) {
  size_t n = 0;
  for (char32_t c : decode(text)) n += upper_length(c);
  return n;
}

std::string py_capitalize(const std::string& text) {
  std::u32string t = decode(text);
  if (t.empty()) return text;
  const char32_t first = static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(t[0])));
  return encode(std::u32string(1, first)) + py_lower(encode(t.substr(1)));
}

std::optional<double> py_float(const std::string& text) {
  const std::u32string t = strip(decode(text));
  // Only ASCII from here (Python also maps other decimal digits; refused here).
  std::string s;
  for (char32_t c : t) {
    if (c >= 0x80) return std::nullopt;
    s.push_back(static_cast<char>(c));
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // An underscore only between two digits, then dropped (_Py_string_to_number_with_underscores).
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') {
      clean.push_back(s[i]);
      continue;
    }
    if (i == 0 || i + 1 == s.size() || !digit(s[i - 1]) || !digit(s[i + 1])) return std::nullopt;
  }
  size_t at = 0;
  bool negative = false;
  if (at < clean.size() && (clean[at] == '+' || clean[at] == '-')) negative = clean[at++] == '-';
  std::string rest = clean.substr(at);
  std::string low;
  for (char c : rest) low.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  if (low == "inf" || low == "infinity") return negative ? -HUGE_VAL : HUGE_VAL;
  if (low == "nan") return negative ? -NAN : NAN;
  // digits [. digits] with at least one digit, then an optional exponent with digits.
  size_t i = 0, mantissa_digits = 0;
  while (i < rest.size() && digit(rest[i])) ++i, ++mantissa_digits;
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    while (i < rest.size() && digit(rest[i])) ++i, ++mantissa_digits;
  }
  if (mantissa_digits == 0) return std::nullopt;
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) ++i;
    size_t exponent_digits = 0;
    while (i < rest.size() && digit(rest[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return std::nullopt;
  }
  if (i != rest.size()) return std::nullopt;
  // The grammar is strtod's subset; the process keeps the "C" locale, and
  // strtod rounds correctly, overflowing to inf and underflowing to 0 as Python does.
  const double v = std::strtod(rest.c_str(), nullptr);
  return negative ? -v : v;
}

std::string evalai_word_tokenize(const std::string& text) { return encode(word_tokenize(decode(text))); }

std::string evalai_process_punctuation(const std::string& text) {
  return encode(process_punctuation(decode(text)));
}

std::string evalai_process_digit_article(const std::string& text) {
  return encode(process_digit_article(decode(text)));
}

std::string evalai_normalize(const std::string& text) {
  std::u32string t = word_tokenize(decode(text));
  t = replace_all(t, U"\n", U" ");
  t = replace_all(t, U"\t", U" ");
  t = strip(t);
  return encode(process_digit_article(process_punctuation(t)));
}

size_t levenshtein(const std::string& a, const std::string& b) {
  std::u32string s1 = decode(a), s2 = decode(b);
  if (s1.size() > s2.size()) std::swap(s1, s2);
  // One row of the table over the shorter text, as metrics.py keeps it.
  std::vector<size_t> row(s1.size() + 1), next(s1.size() + 1);
  for (size_t i = 0; i <= s1.size(); ++i) row[i] = i;
  for (size_t i2 = 0; i2 < s2.size(); ++i2) {
    next[0] = i2 + 1;
    for (size_t i1 = 0; i1 < s1.size(); ++i1)
      next[i1 + 1] = s1[i1] == s2[i2] ? row[i1] : 1 + std::min({row[i1], row[i1 + 1], next[i1]});
    std::swap(row, next);
  }
  return row[s1.size()];
}

}  // namespace laco
