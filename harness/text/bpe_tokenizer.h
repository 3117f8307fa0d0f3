// Qwen2's tokenizer as Hugging Face's `tokenizers` runs it, read from a
// checkpoint folder's tokenizer.json: added (special) tokens matched first
// on the raw text, the rest NFC-normalised (utf8proc), split by the Split
// pre-tokenizer's regex (PCRE2 with Unicode properties and look-ahead, the
// Oniguruma pattern as written), each piece mapped byte by byte to GPT-2's
// printable alphabet (ByteLevel) and merged by ranked BPE; decoding maps the
// alphabet back to bytes and replaces invalid UTF-8 as Rust's
// from_utf8_lossy does. One id off moves every accuracy number, so
// tests/tokenizer/qwen_parity.json (written by scripts/tokenizer_fixtures.mjs
// with Hugging Face's own library) holds the ids this must reproduce.
//
// A tokenizer.json whose model, normalizer, pre-tokenizer, decoder or
// added-token options this does not implement is an Error naming the field
// and what is supported, never a guess.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco {

/// An added token (tokenizer.json's added_tokens): matched whole in the raw text before anything else.
struct AddedToken {
  int64_t id = 0;
  std::string content;
  bool special = false;  ///< skipped by decode(ids, true)
};

/// Usage: auto tok = BpeTokenizer::load("ckpt/tokenizer.json"); auto ids = tok.encode("Hello");
class BpeTokenizer {
 public:
  /// Reads and checks a tokenizer.json (bounded by the file-size limit, laco limits).
  static BpeTokenizer load(const std::string& path);
  /// The same from parsed JSON; `where` names it in errors.
  static BpeTokenizer from_json(const nlohmann::json& json, const std::string& where);

  std::vector<int64_t> encode(const std::string& text) const;
  /// The text of `ids` (added tokens as their content unless skip_special
  /// drops the special ones); an id outside the vocabulary is an Error.
  /// Ids past the vocabulary decode to nothing (Hugging Face's decode drops them); a negative id is an Error.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  /// Ids 0 .. size() - 1 exist (the model's vocabulary and the added tokens).
  int64_t size() const;
  std::optional<int64_t> id_of(const std::string& token) const;
  const std::vector<AddedToken>& added_tokens() const { return added_; }

  BpeTokenizer(BpeTokenizer&&) noexcept;
  BpeTokenizer& operator=(BpeTokenizer&&) noexcept;
  ~BpeTokenizer();

 private:
  BpeTokenizer();
  struct Regex;
  std::vector<std::string> pieces(const std::string& normalized) const;
  void bpe(const std::string& piece, std::vector<int64_t>& out) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> tokens_;  ///< id -> token (model vocabulary, then added tokens)
  std::unordered_map<uint64_t, std::pair<int64_t, int64_t>> merges_;  ///< (left id << 32 | right id) -> (rank, merged id)
  std::vector<AddedToken> added_;
  std::vector<bool> is_added_, is_special_;  ///< by id
  std::unique_ptr<Regex> split_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;  ///< piece -> ids (bounded)
};

/// The text as NFC (Unicode canonical composition); invalid UTF-8 is an Error naming `where`.
std::string nfc(const std::string& text, const std::string& where = "text");

}  // namespace laco
