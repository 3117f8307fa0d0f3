// SynthVQA: a procedurally generated visual question answering benchmark whose
// five question families range from coarse to fine (color, shape, count,
// spatial, text). A proxy for MME / GQA / CountBench / TextVQA, not a
// substitute. Deterministic: sample i of a split is a pure function of
// (seed, split, i). Answers are single words, balanced within each family
// (evals/vqa_vocabulary.h holds the words the LM knows).
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
  std::string answer;    ///< one answer class: a word, or words (user data; see VqaVocabulary::normalize_answer)
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

}  // namespace laco
