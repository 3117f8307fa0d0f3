#include "harness/text/bpe_tokenizer.h"

#include <algorithm>
#include <cstdlib>
#include <queue>
#include <tuple>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"

namespace laco {
namespace {

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the
// others for code points from U+0100 on, in byte order.
std::vector<std::string> byte_alphabet() {
  std::vector<int> bs, cs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  cs = bs;
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) bs.push_back(b), cs.push_back(256 + n++);
  std::vector<std::string> out(256);
  for (size_t i = 0; i < bs.size(); ++i) {
    utf8proc_uint8_t buf[4];
    const auto len = utf8proc_encode_char(cs[i], buf);
    out[static_cast<size_t>(bs[i])] = std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
  }
  return out;
}

const std::vector<std::string>& alphabet() {
  static const std::vector<std::string> a = byte_alphabet();
  return a;
}

uint64_t pair_key(int64_t a, int64_t b) { return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b); }

// Bytes as UTF-8 text, each maximal invalid subpart one U+FFFD (Rust's String::from_utf8_lossy).
std::string utf8_lossy(const std::string& bytes) {
  std::string out;
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) need = 2, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) need = 2;
    else if (c == 0xED) need = 2, hi = 0x9F;
    else if (c == 0xF0) need = 3, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) need = 3, hi = 0x8F;
    size_t k = 1;
    bool ok = need > 0;
    for (; ok && k <= need; ++k) {
      if (i + k >= n) {
        ok = false;
        break;
      }
      const unsigned char d = s[i + k];
      const bool in = k == 1 ? (d >= lo && d <= hi) : (d >= 0x80 && d <= 0xBF);
      if (!in) {
        ok = false;
        break;
      }
    }
    if (ok) {
      out.append(bytes, i, need + 1);
      i += need + 1;
    } else {
      out += "\xEF\xBF\xBD";
      i += std::max<size_t>(1, k);  // the valid prefix of the sequence is one replacement
    }
  }
  return out;
}

[[noreturn]] void unsupported(const std::string& where, const std::string& field, const std::string& got,
                              const std::string& allowed) {
  fail("{}: {}: {} is not supported (allowed: {})", where, field, got, allowed);
}

}  // namespace

std::string nfc(const std::string& text, const std::string& where) {
  utf8proc_uint8_t* out = nullptr;
  const auto len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &out,
                                static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (len < 0) fail("{}: not valid UTF-8 ({})", where, utf8proc_errmsg(len));
  std::string s(reinterpret_cast<char*>(out), static_cast<size_t>(len));
  std::free(out);
  return s;
}

struct BpeTokenizer::Regex {
  pcre2_code* code = nullptr;
  pcre2_match_data* match = nullptr;
  ~Regex() {
    if (match) pcre2_match_data_free(match);
    if (code) pcre2_code_free(code);
  }
};

BpeTokenizer::BpeTokenizer() = default;
BpeTokenizer::BpeTokenizer(BpeTokenizer&&) noexcept = default;
BpeTokenizer& BpeTokenizer::operator=(BpeTokenizer&&) noexcept = default;
BpeTokenizer::~BpeTokenizer() = default;

BpeTokenizer BpeTokenizer::load(const std::string& path) {
  return from_json(read_json_file(path), path);
}

BpeTokenizer BpeTokenizer::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: expected a tokenizer.json object", where);
  BpeTokenizer t;
  auto type_of = [](const nlohmann::json& v) {
    return v.is_object() && v.contains("type") && v["type"].is_string() ? v["type"].get<std::string>()
                                                                        : std::string(v.dump());
  };
  // The model: ranked BPE over the byte-level alphabet, nothing else.
  if (!j.contains("model") || type_of(j["model"]) != "BPE")
    unsupported(where, "model.type", j.contains("model") ? type_of(j["model"]) : "(missing)", "BPE");
  const auto& m = j["model"];
  auto absent_or = [&](const char* key, const nlohmann::json& want, const std::string& allowed) {
    if (m.contains(key) && !m[key].is_null() && m[key] != want) unsupported(where, std::string("model.") + key, m[key].dump(), allowed);
  };
  absent_or("dropout", nullptr, "null");
  absent_or("unk_token", nullptr, "null (byte-level BPE has no unknown token)");
  absent_or("continuing_subword_prefix", "", "\"\" or null");
  absent_or("end_of_word_suffix", "", "\"\" or null");
  absent_or("fuse_unk", false, "false");
  absent_or("byte_fallback", false, "false");
  const bool ignore_merges = m.value("ignore_merges", false);
  if (!m.contains("vocab") || !m["vocab"].is_object()) fail("{}: model.vocab: expected an object of token -> id", where);
  int64_t max_id = -1;
  for (const auto& [token, id] : m["vocab"].items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t{1} << 31))
      fail("{}: model.vocab[{}]: expected an id in [0, 2^31), got {}", where, nlohmann::json(token).dump(), id.dump());
    t.vocab_[token] = id.get<int64_t>();
    max_id = std::max(max_id, id.get<int64_t>());
  }
  // Added tokens: whole strings matched on the raw text before anything else.
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    if (!j["added_tokens"].is_array()) fail("{}: added_tokens: expected an array", where);
    for (size_t i = 0; i < j["added_tokens"].size(); ++i) {
      const auto& a = j["added_tokens"][i];
      const std::string path = fmt::format("added_tokens[{}]", i);
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
          !a["content"].is_string() || a["content"].get<std::string>().empty())
        fail("{}: {}: expected {{\"id\": integer, \"content\": non-empty string, ...}}", where, path);
      for (const char* flag : {"single_word", "lstrip", "rstrip", "normalized"})
        if (a.value(flag, false)) unsupported(where, path + "." + flag, "true", "false");
      AddedToken added{a["id"].get<int64_t>(), a["content"].get<std::string>(), a.value("special", false)};
      if (added.id < 0 || added.id >= (int64_t{1} << 31)) fail("{}: {}.id: {} is out of range", where, path, added.id);
      max_id = std::max(max_id, added.id);
      t.added_.push_back(added);
    }
  }
  t.tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
  std::vector<bool> seen(t.tokens_.size(), false);
  for (const auto& [token, id] : t.vocab_) {
    if (seen[static_cast<size_t>(id)]) fail("{}: model.vocab: id {} is given twice", where, id);
    seen[static_cast<size_t>(id)] = true;
    t.tokens_[static_cast<size_t>(id)] = token;
  }
  t.is_added_.assign(t.tokens_.size(), false);
  t.is_special_.assign(t.tokens_.size(), false);
  for (const auto& a : t.added_) {
    const auto k = static_cast<size_t>(a.id);
    if (seen[k] && t.tokens_[k] != a.content)
      fail("{}: added token {} '{}' has the id of vocabulary token '{}'", where, a.id, a.content, t.tokens_[k]);
    seen[k] = true;
    t.tokens_[k] = a.content;
    t.is_added_[k] = true;
    t.is_special_[k] = a.special;
  }
  for (size_t id = 0; id < seen.size(); ++id)
    if (!seen[id]) fail("{}: no token has id {} (ids must run 0 .. {} without gaps)", where, id, seen.size() - 1);
  // Every byte must be a symbol, or some text could not be encoded.
  for (int b = 0; b < 256; ++b)
    if (!t.vocab_.count(alphabet()[static_cast<size_t>(b)]))
      fail("{}: model.vocab: lacks the byte-level symbol '{}' of byte {} (not a byte-level BPE vocabulary)", where,
           alphabet()[static_cast<size_t>(b)], b);
  if (!m.contains("merges") || !m["merges"].is_array()) fail("{}: model.merges: expected an array", where);
  const auto& merges = m["merges"];
  for (size_t r = 0; r < merges.size(); ++r) {
    std::string a, b;
    const auto& e = merges[r];
    if (e.is_string()) {  // "a b" (tokenizers < 0.20)
      const std::string s = e.get<std::string>();
      const auto space = s.find(' ', 1);
      if (space == std::string::npos) fail("{}: model.merges[{}]: '{}' is not \"left right\"", where, r, s);
      a = s.substr(0, space), b = s.substr(space + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>(), b = e[1].get<std::string>();
    } else {
      fail("{}: model.merges[{}]: expected \"left right\" or [left, right], got {}", where, r, e.dump());
    }
    auto ia = t.vocab_.find(a), ib = t.vocab_.find(b), im = t.vocab_.find(a + b);
    if (ia == t.vocab_.end() || ib == t.vocab_.end() || im == t.vocab_.end())
      fail("{}: model.merges[{}]: '{}' + '{}' -> a token the vocabulary lacks", where, r, a, b);
    t.merges_.emplace((pair_key(ia->second, ib->second)),
                      std::make_pair(static_cast<int64_t>(r), im->second));
  }
  (void)ignore_merges;
  if (ignore_merges) unsupported(where, "model.ignore_merges", "true", "false");

  // The normalizer: NFC (Qwen2's) or none.
  const std::string normalizer = j.contains("normalizer") && !j["normalizer"].is_null() ? type_of(j["normalizer"]) : "null";
  if (normalizer != "NFC") unsupported(where, "normalizer.type", normalizer, "NFC");
  // The pre-tokenizer: Sequence [Split(regex, Isolated), ByteLevel(no prefix space, no regex of its own)].
  const auto& pre = j.value("pre_tokenizer", nlohmann::json());
  const std::string want_pre =
      "Sequence of Split (a Regex pattern, behavior Isolated, invert false) and ByteLevel (add_prefix_space false, "
      "use_regex false)";
  if (type_of(pre) != "Sequence" || !pre.contains("pretokenizers") || !pre["pretokenizers"].is_array() ||
      pre["pretokenizers"].size() != 2)
    unsupported(where, "pre_tokenizer", pre.dump().substr(0, 200), want_pre);
  const auto& split = pre["pretokenizers"][0];
  const auto& bytelevel = pre["pretokenizers"][1];
  if (type_of(split) != "Split" || split.value("behavior", std::string()) != "Isolated" || split.value("invert", true) ||
      !split.contains("pattern") || !split["pattern"].is_object() || !split["pattern"].contains("Regex") ||
      !split["pattern"]["Regex"].is_string())
    unsupported(where, "pre_tokenizer.pretokenizers[0]", split.dump().substr(0, 200), want_pre);
  if (type_of(bytelevel) != "ByteLevel" || bytelevel.value("add_prefix_space", true) || bytelevel.value("use_regex", true))
    unsupported(where, "pre_tokenizer.pretokenizers[1]", bytelevel.dump(), want_pre);
  const std::string decoder = j.contains("decoder") ? type_of(j["decoder"]) : "(missing)";
  if (decoder != "ByteLevel") unsupported(where, "decoder.type", decoder, "ByteLevel");
  const std::string post = j.contains("post_processor") && !j["post_processor"].is_null() ? type_of(j["post_processor"]) : "null";
  if (post != "ByteLevel" && post != "null")
    unsupported(where, "post_processor.type", post, "ByteLevel or null (no tokens added around the text)");

  const std::string pattern = split["pattern"]["Regex"].get<std::string>();
  t.split_ = std::make_unique<Regex>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  t.split_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                 &error, &offset, nullptr);
  if (!t.split_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    fail("{}: pre_tokenizer.pretokenizers[0].pattern.Regex: does not compile at offset {}: {}", where, offset,
         reinterpret_cast<char*>(message));
  }
  pcre2_jit_compile(t.split_->code, PCRE2_JIT_COMPLETE);  // no JIT: the interpreter, same matches
  t.split_->match = pcre2_match_data_create_from_pattern(t.split_->code, nullptr);
  return t;
}

int64_t BpeTokenizer::size() const { return static_cast<int64_t>(tokens_.size()); }

std::optional<int64_t> BpeTokenizer::id_of(const std::string& token) const {
  for (const auto& a : added_)
    if (a.content == token) return a.id;
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> BpeTokenizer::pieces(const std::string& s) const {
  std::vector<std::string> out;
  size_t last = 0, start = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  while (start <= s.size()) {
    const int rc = pcre2_match(split_->code, subject, s.size(), start, PCRE2_NO_UTF_CHECK, split_->match, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) fail("tokenizer: the pre-tokenizer's regex failed (PCRE2 error {})", rc);
    const PCRE2_SIZE* v = pcre2_get_ovector_pointer(split_->match);
    const size_t b = v[0], e = v[1];
    if (b > last) out.push_back(s.substr(last, b - last));
    if (e > b) {
      out.push_back(s.substr(b, e - b));
      last = start = e;
    } else {  // an empty match: step over one character
      last = b;
      start = b + 1;
      while (start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) ++start;
    }
  }
  if (last < s.size()) out.push_back(s.substr(last));
  return out;
}

void BpeTokenizer::bpe(const std::string& piece, std::vector<int64_t>& out) const {
  auto cached = cache_.find(piece);
  if (cached != cache_.end()) {
    out.insert(out.end(), cached->second.begin(), cached->second.end());
    return;
  }
  struct Symbol {
    int64_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> sym;
  sym.reserve(piece.size());
  for (size_t i = 0; i < piece.size(); ++i)
    sym.push_back({vocab_.at(alphabet()[static_cast<unsigned char>(piece[i])]), static_cast<int>(i) - 1,
                   i + 1 < piece.size() ? static_cast<int>(i) + 1 : -1, true});
  // The lowest-ranked pair first, the leftmost among equals (Hugging Face's Word::merge_all).
  using Candidate = std::tuple<int64_t, int, int64_t, int64_t>;  // rank, left position, left id, right id
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push = [&](int left) {
    if (left < 0 || sym[static_cast<size_t>(left)].next < 0) return;
    const auto& a = sym[static_cast<size_t>(left)];
    const auto& b = sym[static_cast<size_t>(a.next)];
    auto it = merges_.find((pair_key(a.id, b.id)));
    if (it != merges_.end()) queue.emplace(it->second.first, left, a.id, b.id);
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) push(i);
  while (!queue.empty()) {
    const auto [rank, left, a_id, b_id] = queue.top();
    queue.pop();
    auto& a = sym[static_cast<size_t>(left)];
    if (!a.alive || a.id != a_id || a.next < 0) continue;
    auto& b = sym[static_cast<size_t>(a.next)];
    if (b.id != b_id) continue;  // stale: one side merged since
    a.id = merges_.at((pair_key(a_id, b_id))).second;
    b.alive = false;
    a.next = b.next;
    if (b.next >= 0) sym[static_cast<size_t>(b.next)].prev = left;
    push(a.prev);
    push(left);
  }
  std::vector<int64_t> ids;
  for (const auto& s : sym)
    if (s.alive) ids.push_back(s.id);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cache_.size() < 100000 && piece.size() < 256) cache_.emplace(piece, std::move(ids));
}

std::vector<int64_t> BpeTokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  auto encode_plain = [&](const std::string& segment) {
    if (segment.empty()) return;
    for (const auto& piece : pieces(nfc(segment))) bpe(piece, ids);
  };
  // Added tokens, leftmost first, the longest at a position (Aho-Corasick's LeftmostLongest).
  size_t last = 0;
  for (size_t i = 0; i < text.size();) {
    const AddedToken* best = nullptr;
    for (const auto& a : added_)
      if (text.compare(i, a.content.size(), a.content) == 0 && (!best || a.content.size() > best->content.size()))
        best = &a;
    if (!best) {
      ++i;
      continue;
    }
    encode_plain(text.substr(last, i - last));
    ids.push_back(best->id);
    i += best->content.size();
    last = i;
  }
  encode_plain(text.substr(last));
  return ids;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  // The byte-level decoder maps each character of every token back to its
  // byte; a character outside the alphabet (an added token's non-ASCII) stays as it is.
  static const std::unordered_map<std::string, unsigned char> to_byte = [] {
    std::unordered_map<std::string, unsigned char> m;
    for (int b = 0; b < 256; ++b) m[alphabet()[static_cast<size_t>(b)]] = static_cast<unsigned char>(b);
    return m;
  }();
  std::string bytes;
  for (int64_t id : ids) {
    if (id < 0) fail("tokenizer: id {} is negative (allowed: 0 .. {})", id, size() - 1);
    // An id the vocabulary lacks decodes to nothing, as Hugging Face's decode
    // drops it (checked with tokenizers 0.22.2): a model whose embedding has
    // rows past the tokenizer's (Qwen2: 151936 rows, 151665 tokens) can emit one.
    if (id >= size()) continue;
    const auto k = static_cast<size_t>(id);
    if (skip_special && is_special_[k]) continue;
    const std::string& token = tokens_[k];
    // Every character of the token in the alphabet: its bytes; else the token's own bytes (Hugging Face's rule).
    std::string mapped;
    bool all = true;
    for (size_t i = 0; i < token.size() && all;) {
      size_t len = 1;
      const auto c = static_cast<unsigned char>(token[i]);
      if (c >= 0xF0) len = 4;
      else if (c >= 0xE0) len = 3;
      else if (c >= 0xC0) len = 2;
      auto it = to_byte.find(token.substr(i, len));
      if (it == to_byte.end()) all = false;
      else mapped += static_cast<char>(it->second);
      i += len;
    }
    bytes += all ? mapped : token;
  }
  return utf8_lossy(bytes);
}

}  // namespace laco
