// SynthVQA: a procedurally generated visual question answering benchmark whose
// five question families range from coarse to fine (color, shape, count,
// spatial, text). A proxy for MME / GQA / CountBench / TextVQA, not a
// substitute. Deterministic: sample i of a split is a pure function of
// (seed, split, i). Answers are single words, balanced within each family.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace laco {

/// An RGB image, row-major, 3 bytes per pixel.
struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

struct VqaSample {
  std::string id;
  std::string family;    ///< color, shape, count, spatial, text (or "" for user data)
  std::string question;  ///< space-separated words, e.g. "what color is the large shape ?"
  std::string answer;    ///< a single word
  RgbImage image;
};

/// The five families, in table order.
const std::vector<std::string>& vqa_families();
/// The possible answers of a family (chance = 1 / their count).
const std::vector<std::string>& vqa_answers(const std::string& family);

struct SynthVqaOptions {
  int64_t image_size = 48;
  int64_t glyph_scale = 2;  ///< the 3x5 bitmap font drawn at this scale
};

/// Sample `index` of `split` ("train", "val", "test"): families cycle, and
/// within a family answers go through shuffled rounds of all values, so every
/// family is balanced. Splits use disjoint generator streams.
VqaSample generate_vqa_sample(const SynthVqaOptions& options, uint64_t seed, const std::string& split, int64_t index);
std::vector<VqaSample> generate_vqa_split(const SynthVqaOptions& options, uint64_t seed, const std::string& split,
                                          int64_t count);

/// The fixed word vocabulary: <pad>, <unk>, the question words and every answer.
class VqaVocabulary {
 public:
  static const VqaVocabulary& get();
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  int64_t pad() const { return 0; }
  int64_t unk() const { return 1; }
  /// The id of `word`, or unk().
  int64_t id(const std::string& word) const;
  bool contains(const std::string& word) const { return ids_.count(word) != 0; }
  const std::string& word(int64_t id) const { return words_.at(static_cast<size_t>(id)); }
  /// Lower-cases and splits on spaces, with '?' and ',' as words of their own.
  static std::vector<std::string> tokenize(const std::string& text);
  /// The question's ids, left-padded with pad() to `length` (longer: the last `length` kept).
  std::vector<int64_t> encode(const std::string& question, int64_t length) const;

 private:
  VqaVocabulary();
  std::vector<std::string> words_;
  std::map<std::string, int64_t> ids_;
};

}  // namespace laco
