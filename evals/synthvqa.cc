#include "evals/synthvqa.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>

#include <fmt/core.h>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {
namespace {

struct Color {
  const char* name;
  int r, g, b;
};
const std::array<Color, 6> kColors = {{{"red", 220, 45, 45},
                                       {"green", 45, 200, 70},
                                       {"blue", 60, 90, 235},
                                       {"yellow", 235, 220, 45},
                                       {"magenta", 215, 60, 215},
                                       {"cyan", 60, 215, 215}}};
const std::array<const char*, 4> kShapes = {"circle", "square", "triangle", "cross"};
const std::array<const char*, 2> kRelationAnswers = {"above", "below"};
constexpr int kMaxCount = 4;

// A 3 x 5 bitmap font for the code letters a..h (rows top to bottom, 3 bits each).
const std::array<std::array<uint8_t, 5>, 8> kGlyphs = {{
    {0b010, 0b101, 0b111, 0b101, 0b101},  // a
    {0b110, 0b101, 0b110, 0b101, 0b110},  // b
    {0b011, 0b100, 0b100, 0b100, 0b011},  // c
    {0b110, 0b101, 0b101, 0b101, 0b110},  // d
    {0b111, 0b100, 0b110, 0b100, 0b111},  // e
    {0b111, 0b100, 0b110, 0b100, 0b100},  // f
    {0b011, 0b100, 0b101, 0b101, 0b011},  // g
    {0b101, 0b101, 0b111, 0b101, 0b101},  // h
}};
const std::array<const char*, 8> kLetters = {"a", "b", "c", "d", "e", "f", "g", "h"};

using Rng = std::mt19937_64;

int uniform(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t split_stream(const std::string& split) {
  if (split == "train") return 0x7261696E;
  if (split == "val") return 0x76616C;
  if (split == "test") return 0x74657374;
  fail("synthvqa: unknown split '{}' (allowed: train, val, test)", split);
}

class Canvas {
 public:
  Canvas(int64_t size, Rng& rng) : size_(static_cast<int>(size)) {
    image_.width = image_.height = size;
    image_.pixels.resize(static_cast<size_t>(size * size * 3));
    const int base = uniform(rng, 25, 60);
    for (auto& p : image_.pixels) p = static_cast<uint8_t>(std::clamp(base + uniform(rng, -8, 8), 0, 255));
  }
  int size() const { return size_; }
  void put(int x, int y, const Color& c, int jitter) {
    if (x < 0 || y < 0 || x >= size_ || y >= size_) return;
    auto* p = &image_.pixels[static_cast<size_t>((y * size_ + x) * 3)];
    p[0] = static_cast<uint8_t>(std::clamp(c.r + jitter, 0, 255));
    p[1] = static_cast<uint8_t>(std::clamp(c.g + jitter, 0, 255));
    p[2] = static_cast<uint8_t>(std::clamp(c.b + jitter, 0, 255));
  }
  /// A shape of kind 0..3 centred at (cx, cy) with half-size r.
  void shape(int kind, int cx, int cy, int r, const Color& c, Rng& rng) {
    const int jitter = uniform(rng, -15, 15);
    for (int y = cy - r; y <= cy + r; ++y)
      for (int x = cx - r; x <= cx + r; ++x) {
        const int dx = x - cx, dy = y - cy;
        bool in = false;
        switch (kind) {
          case 0: in = dx * dx + dy * dy <= r * r + r; break;  // + r: no single-pixel nubs
          case 1: in = true; break;
          case 2: in = 2 * std::abs(dx) <= (dy + r); break;  // apex up, base at the bottom
          case 3: in = std::abs(dx) * 3 <= r || std::abs(dy) * 3 <= r; break;
        }
        if (in) put(x, y, c, jitter);
      }
  }
  void glyph(int letter, int x0, int y0, int scale) {
    const Color white{"white", 235, 235, 235};
    for (int row = 0; row < 5; ++row)
      for (int col = 0; col < 3; ++col)
        if (kGlyphs[letter][row] & (4 >> col))
          for (int sy = 0; sy < scale; ++sy)
            for (int sx = 0; sx < scale; ++sx) put(x0 + col * scale + sx, y0 + row * scale + sy, white, 0);
  }
  RgbImage take() { return std::move(image_); }

 private:
  int size_;
  RgbImage image_;
};

// Non-overlapping placement: a 4 x 4 board of cells, shapes centred in distinct cells.
std::vector<std::pair<int, int>> distinct_cells(Rng& rng, int n) {
  std::vector<int> cells(16);
  for (int i = 0; i < 16; ++i) cells[i] = i;
  std::shuffle(cells.begin(), cells.end(), rng);
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < n; ++i) out.emplace_back(cells[i] % 4, cells[i] / 4);
  return out;
}

int other_than(Rng& rng, int n, int excluded) {
  int v = uniform(rng, 0, n - 2);
  return v >= excluded ? v + 1 : v;
}

// One to three small shapes of any kind anywhere, coloured by `colour()`.
template <typename ColourFn>
void small_distractors(Canvas& canvas, Rng& rng, ColourFn colour) {
  const int s = canvas.size();
  const int distractors = uniform(rng, 1, 3);
  for (int i = 0; i < distractors; ++i)
    canvas.shape(uniform(rng, 0, 3), uniform(rng, 3, s - 4), uniform(rng, 3, s - 4), std::max(2, s / 16),
                 kColors[colour()], rng);
}

VqaSample make_color(int answer, Rng& rng, const SynthVqaOptions& o) {
  Canvas canvas(o.image_size, rng);
  const int s = canvas.size();
  // Small distractors first, then the large shape on top.
  small_distractors(canvas, rng, [&] { return other_than(rng, 6, answer); });
  const int r = uniform(rng, s / 6, s / 4);
  canvas.shape(uniform(rng, 0, 3), uniform(rng, r, s - 1 - r), uniform(rng, r, s - 1 - r), r, kColors[answer], rng);
  return {"", "color", "what color is the large shape ?", kColors[answer].name, canvas.take()};
}

VqaSample make_shape(int answer, Rng& rng, const SynthVqaOptions& o) {
  Canvas canvas(o.image_size, rng);
  const int s = canvas.size();
  // One shape alone, half to two thirds of the image across: its kind,
  // unlike its colour, is only visible in the outline, a finer detail. With
  // small distractors and a half-size of s/6..s/4, `none` on `small` reached
  // 46.8% after 2000 stage-0 steps (trained on shape alone, its confusions
  // were circle vs square and cross vs triangle: it told kinds apart by their
  // area); alone and at s/4..s/3, 82.2% (2026-12-01, seed 0).
  const int r = uniform(rng, s / 4, s / 3);
  canvas.shape(answer, uniform(rng, r, s - 1 - r), uniform(rng, r, s - 1 - r), r, kColors[uniform(rng, 0, 5)], rng);
  return {"", "shape", "what shape is the large object ?", kShapes[answer], canvas.take()};
}

VqaSample make_count(int answer, Rng& rng, const SynthVqaOptions& o) {
  Canvas canvas(o.image_size, rng);
  const int cell = canvas.size() / 4;
  const auto cells = distinct_cells(rng, answer);
  for (int i = 0; i < answer; ++i) {
    const int r = uniform(rng, std::max(2, cell / 4), std::max(2, cell / 2 - 1));
    canvas.shape(uniform(rng, 0, 3), cells[i].first * cell + cell / 2, cells[i].second * cell + cell / 2, r,
                 kColors[uniform(rng, 0, 5)], rng);
  }
  return {"", "count", "how many shapes are there ?", std::to_string(answer), canvas.take()};
}

// Two shapes, a large and a small one: is the small one above or below the
// large one. The answer names the relation (yes/no to a relation named in the
// question would make the answer an XOR of question and image), and the pair
// is picked out by size, not named colours, so the question is the same for
// every sample: at this scale, conditioning on the question's words is what a
// from-scratch model learns last (measured: a colour-named variant stayed at
// chance after 2000 stage-0 steps while the other families learnt).
// Vertical only: with left and right among the answers as well, `none` on
// `small` told above from below (93-97%) but left from right at chance
// (45-59% of the left/right questions) in every run, after 2000 to 4000
// stage-0 steps and with 2.5x the spatial samples (2026-12-01, seed 0,
// stage 0 only). A likely reason, not tested: the LM reads the tokens row by
// row under a causal mask, so which shape comes first in the sequence tells
// the vertical relation for free, while the horizontal one must be read from
// position features the model did not learn to use at this budget.
VqaSample make_spatial(int answer, Rng& rng, const SynthVqaOptions& o) {
  Canvas canvas(o.image_size, rng);
  const int s = canvas.size();
  const int big = std::max(3, s / 6), small = std::max(2, s / 12);
  const int c1 = uniform(rng, 0, 5), c2 = other_than(rng, 6, c1);
  // Vertically the two are in opposite halves with a clear gap; horizontally
  // they are roughly aligned.
  const bool small_first = answer == 0;  // above
  const int r_first = small_first ? small : big, r_second = small_first ? big : small;
  const int a = uniform(rng, r_first, s / 2 - 2);
  const int b = uniform(rng, std::max(s / 2 + 1, a + r_first + r_second + 2), s - 1 - r_second);
  const int y_small = small_first ? a : b, y_big = small_first ? b : a;
  const int x_big = uniform(rng, big, s - 1 - big);
  const int x_small = std::clamp(x_big + uniform(rng, -big / 2, big / 2), small, s - 1 - small);
  canvas.shape(uniform(rng, 0, 3), x_big, y_big, big, kColors[c1], rng);
  canvas.shape(uniform(rng, 0, 3), x_small, y_small, small, kColors[c2], rng);
  return {"", "spatial", "where is the small shape relative to the large shape ?", kRelationAnswers[answer],
          canvas.take()};
}

VqaSample make_text(int answer, Rng& rng, const SynthVqaOptions& o) {
  Canvas canvas(o.image_size, rng);
  const int s = canvas.size(), scale = static_cast<int>(o.glyph_scale);
  const int width = 3 * scale, height = 5 * scale;
  const int x0 = uniform(rng, 1, s - width - 1), y0 = uniform(rng, 1, s - height - 1);
  // A distractor shape clear of the letter: rejection sampling, a few tries.
  const int r = std::max(2, s / 14);
  for (int attempt = 0; attempt < 20; ++attempt) {
    const int cx = uniform(rng, r, s - 1 - r), cy = uniform(rng, r, s - 1 - r);
    const bool clear = cx + r < x0 - 1 || cx - r > x0 + width || cy + r < y0 - 1 || cy - r > y0 + height;
    if (clear) {
      canvas.shape(uniform(rng, 0, 3), cx, cy, r, kColors[uniform(rng, 0, 5)], rng);
      break;
    }
  }
  canvas.glyph(answer, x0, y0, scale);
  return {"", "text", "what letter is written ?", kLetters[answer], canvas.take()};
}

}  // namespace

const std::vector<std::string>& vqa_families() {
  static const std::vector<std::string> families = {"color", "shape", "count", "spatial", "text"};
  return families;
}

const std::vector<std::string>& vqa_answers(const std::string& family) {
  static const std::map<std::string, std::vector<std::string>> answers = [] {
    std::map<std::string, std::vector<std::string>> m;
    for (const auto& c : kColors) m["color"].push_back(c.name);
    for (const auto* s : kShapes) m["shape"].push_back(s);
    for (int i = 0; i <= kMaxCount; ++i) m["count"].push_back(std::to_string(i));
    for (const auto* a : kRelationAnswers) m["spatial"].push_back(a);
    for (const auto* l : kLetters) m["text"].push_back(l);
    return m;
  }();
  auto it = answers.find(family);
  if (it == answers.end()) fail("synthvqa: unknown family '{}' (allowed: {})", family, join(vqa_families()));
  return it->second;
}

VqaSample generate_vqa_sample(const SynthVqaOptions& o, uint64_t seed, const std::string& split, int64_t index) {
  if (o.image_size < 24) fail("synthvqa: image_size must be >= 24, got {}", o.image_size);
  const auto& families = vqa_families();
  const int64_t f = index % static_cast<int64_t>(families.size());
  const int64_t within = index / static_cast<int64_t>(families.size());
  const auto& family = families[static_cast<size_t>(f)];
  const int64_t n = static_cast<int64_t>(vqa_answers(family).size());
  // Answers go through rounds of a shuffled permutation: exactly balanced per round.
  const uint64_t stream = mix(seed ^ mix(split_stream(split)) ^ mix(static_cast<uint64_t>(f) + 1));
  Rng round_rng(mix(stream ^ static_cast<uint64_t>(within / n)));
  std::vector<int> perm(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  std::shuffle(perm.begin(), perm.end(), round_rng);
  const int answer = perm[static_cast<size_t>(within % n)];

  Rng rng(mix(stream ^ mix(static_cast<uint64_t>(index) * 0x9E37ULL + 7)));
  VqaSample s;
  switch (f) {
    case 0: s = make_color(answer, rng, o); break;
    case 1: s = make_shape(answer, rng, o); break;
    case 2: s = make_count(answer, rng, o); break;
    case 3: s = make_spatial(answer, rng, o); break;
    default: s = make_text(answer, rng, o); break;
  }
  s.id = fmt::format("{}-{:06d}", split, index);
  return s;
}

std::vector<VqaSample> generate_vqa_split(const SynthVqaOptions& o, uint64_t seed, const std::string& split,
                                          int64_t count) {
  std::vector<VqaSample> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) out.push_back(generate_vqa_sample(o, seed, split, i));
  return out;
}

}  // namespace laco
