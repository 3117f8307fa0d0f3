// Issue 42, the tokenizer: Qwen2's byte-level BPE against Hugging Face's
// own library, id for id (tests/tokenizer/qwen_parity.json, written by
// scripts/tokenizer_fixtures.mjs from ../shared/tokenizers/qwen), and a
// small tokenizer worked by hand for the rules the real one hides.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/base/files.h"
#include "harness/text/bpe_tokenizer.h"
#include "tests/test_util.h"

namespace laco {
namespace {

using nlohmann::json;

const std::string kQwen = LACO_SHARED_TOKENIZERS_DIR "/qwen/tokenizer.json";
const std::string kParity = LACO_SOURCE_DIR "/tests/tokenizer/qwen_parity.json";

// GPT-2's byte alphabet, written again here: printable bytes as themselves, the rest U+0100 on.
std::string symbol(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  int cp = b;
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// 256 byte symbols (id = byte), merges h+e, he+l, l+o, hel+lo, then "<x>" as a special added token.
json small_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[symbol(b)] = b;
  vocab["he"] = 256;
  vocab["hel"] = 257;
  vocab["lo"] = 258;
  vocab["hello"] = 259;
  return json{
      {"added_tokens", json::array({json{{"id", 260}, {"content", "<x>"}, {"special", true}, {"normalized", false}}})},
      {"normalizer", json{{"type", "NFC"}}},
      {"pre_tokenizer",
       json{{"type", "Sequence"},
            {"pretokenizers",
             json::array({json{{"type", "Split"},
                               {"pattern", json{{"Regex", " ?\\p{L}+|\\p{N}|\\s+(?!\\S)|\\s+|[^\\s\\p{L}\\p{N}]+"}}},
                               {"behavior", "Isolated"},
                               {"invert", false}},
                          json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"post_processor", json{{"type", "ByteLevel"}}},
      {"decoder", json{{"type", "ByteLevel"}}},
      {"model", json{{"type", "BPE"},
                     {"vocab", vocab},
                     {"merges", json::array({json::array({"h", "e"}), "he l", json::array({"l", "o"}),
                                             json::array({"hel", "lo"})})}}}};
}

TEST(Tokenizer, ASmallTokenizerByHand) {
  const BpeTokenizer t = BpeTokenizer::from_json(small_tokenizer(), "small");
  EXPECT_EQ(t.size(), 261);
  // "hello": h e l l o -> he l l o (rank 0) -> hel l o (1) -> hel lo (2) -> hello (3).
  EXPECT_EQ(t.encode("hello"), (std::vector<int64_t>{259}));
  // "hell": he l l -> hel l; "lol": lo l.
  EXPECT_EQ(t.encode("hell"), (std::vector<int64_t>{257, 'l'}));
  EXPECT_EQ(t.encode("lol"), (std::vector<int64_t>{258, 'l'}));
  // The added token is matched in the raw text first, even inside a word; the rest is split and merged.
  EXPECT_EQ(t.encode("he<x>llo"), (std::vector<int64_t>{256, 260, 'l', 258}));
  // " hello" is one piece: the space is byte 0x20 (symbol U+0120, id 32); no merge starts with it.
  EXPECT_EQ(t.encode(" hello"), (std::vector<int64_t>{' ', 259}));
  // NFC before the split: e + U+0301 becomes U+00E9 (bytes C3 A9).
  EXPECT_EQ(t.encode("e\xCC\x81"), (std::vector<int64_t>{0xC3, 0xA9}));
  EXPECT_EQ(t.decode(t.encode("he<x>llo")), "he<x>llo");
  EXPECT_EQ(t.decode(t.encode("he<x>llo"), true), "hello") << "skip_special drops <x>";
  // Invalid UTF-8 decodes as Rust's from_utf8_lossy: one U+FFFD per maximal invalid subpart.
  EXPECT_EQ(t.decode({0xE2, 0x82}), "\xEF\xBF\xBD") << "a truncated sequence is one replacement";
  EXPECT_EQ(t.decode({0xE2, 'A'}), "\xEF\xBF\xBD" "A");
  EXPECT_EQ(t.decode({0xFF, 0xFE}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(t.decode({0xED, 0xA0, 0x80}), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD") << "a surrogate: three";
  EXPECT_EQ(t.decode({0xE2, 0x82, 0xAC}), "\xE2\x82\xAC");
  // An id past the vocabulary decodes to nothing, as Hugging Face's decode drops it (tokenizers 0.22.2:
  // decode([9707, 151942, 11], true) of the Qwen tokenizer is "Hello,"); a negative id is an error.
  EXPECT_EQ(t.decode({'h', 261, 'i', 100000}), "hi");
  test::expect_error([&] { t.decode({-1}); }, {"id -1 is negative", "0 .. 260"});
  EXPECT_EQ(t.id_of("<x>"), 260);
  EXPECT_EQ(t.id_of("hel"), 257);
  EXPECT_FALSE(t.id_of("xyz").has_value());
}

TEST(Tokenizer, RefusesWhatItDoesNotImplementNamingTheField) {
  auto with = [](const std::string& pointer, const json& value) {
    json j = small_tokenizer();
    j[json::json_pointer(pointer)] = value;
    return j;
  };
  auto refused = [](const json& j, const std::vector<std::string>& fragments) {
    test::expect_error([&] { BpeTokenizer::from_json(j, "t.json"); }, fragments);
  };
  refused(with("/model/type", "WordPiece"), {"t.json: model.type: WordPiece is not supported", "allowed: BPE"});
  refused(with("/model/byte_fallback", true), {"model.byte_fallback: true is not supported", "allowed: false"});
  refused(with("/model/unk_token", "<unk>"), {"model.unk_token"});
  refused(with("/normalizer", json{{"type", "NFKC"}}), {"normalizer.type: NFKC is not supported", "allowed: NFC"});
  refused(with("/pre_tokenizer", json{{"type", "Whitespace"}}), {"pre_tokenizer", "Sequence of Split"});
  refused(with("/pre_tokenizer/pretokenizers/0/behavior", "Removed"), {"pre_tokenizer.pretokenizers[0]"});
  refused(with("/pre_tokenizer/pretokenizers/1/add_prefix_space", true), {"pre_tokenizer.pretokenizers[1]"});
  refused(with("/pre_tokenizer/pretokenizers/0/pattern/Regex", "(?<"), {"Regex: does not compile"});
  refused(with("/decoder", json{{"type", "Metaspace"}}), {"decoder.type: Metaspace is not supported", "allowed: ByteLevel"});
  refused(with("/post_processor", json{{"type", "TemplateProcessing"}}), {"post_processor.type"});
  refused(with("/added_tokens/0/normalized", true), {"added_tokens[0].normalized: true is not supported"});
  refused(with("/added_tokens/0/lstrip", true), {"added_tokens[0].lstrip"});
  refused(with("/model/merges/0", json::array({"h", "x"})), {"model.merges[0]: 'h' + 'x'", "the vocabulary lacks"});
  refused(with("/model/merges/1", 7), {"model.merges[1]: expected \"left right\" or [left, right]"});
  refused(with("/added_tokens/0/id", 262), {"no token has id 260"});
  json no_byte = small_tokenizer();
  no_byte["model"]["vocab"].erase(symbol(0x20));
  no_byte["model"]["vocab"]["zz"] = 32;  // the id stays taken: no gap
  refused(no_byte, {"lacks the byte-level symbol", "byte 32"});
  test::expect_error([] { nfc("\xC3", "q.txt"); }, {"q.txt: not valid UTF-8"});
  EXPECT_EQ(nfc("A\xCC\x8A"), "\xC3\x85");
}

// Every id of at least 320 strings (prose, contractions, digits, whitespace
// runs, CJK, Korean, Arabic, emoji and ZWJ sequences, combining marks, code,
// URLs, special tokens inline, long inputs) equals Hugging Face's, and so does
// the decoded text; decode(encode(s)) is NFC(s).
TEST(TokenizerParity, EveryIdEqualsHuggingFaces) {
  const json fixture = json::parse(test::read_file(kParity));
  ASSERT_EQ(fixture["tokenizer_sha256"], file_sha256(kQwen)) << "the fixture was made from another tokenizer.json";
  const BpeTokenizer t = BpeTokenizer::load(kQwen);
  EXPECT_EQ(t.size(), 151669);
  EXPECT_EQ(t.id_of("<|im_start|>"), 151644);
  ASSERT_GE(fixture["cases"].size(), 320u);
  size_t checked = 0, ids_total = 0;
  for (const auto& c : fixture["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const auto want = c["ids"].get<std::vector<int64_t>>();
    const auto got = t.encode(text);
    EXPECT_EQ(got, want) << "text: " << json(text).dump();
    EXPECT_EQ(t.decode(want), c["decoded"].get<std::string>()) << "text: " << json(text).dump();
    EXPECT_EQ(t.decode(got), nfc(text)) << "text: " << json(text).dump();
    ++checked;
    ids_total += want.size();
  }
  EXPECT_EQ(checked, fixture["cases"].size());
  EXPECT_GT(ids_total, 10000u);
}

}  // namespace
}  // namespace laco
