#include "evals/accuracy_presets.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "evals/vqa_vocabulary.h"
#include "harness/base/named.h"
#include "harness/base/text.h"
#include "harness/model/presets.h"

namespace laco {
namespace {

AccuracyPreset make_preset(std::string name, std::string summary, int64_t image, int64_t width, int64_t depth,
                           int64_t heads, int64_t lm_width, int64_t lm_layers) {
  AccuracyPreset p;
  p.name = std::move(name);
  p.summary = std::move(summary);
  p.data.image_size = image;
  p.model.encoder = EncoderOptions().image_size(image).patch_size(4).width(width).depth(depth).heads(heads).mlp_dim(4 * width);
  p.model.lm = LmOptions()
                   .vocab(VqaVocabulary::synthvqa().size())  // a run's: accuracy_model()
                   .width(lm_width)
                   .layers(lm_layers)
                   .heads(std::max<int64_t>(2, lm_width / 32))
                   .kv_heads(1)
                   .mlp_dim(3 * lm_width);
  return p;
}

std::vector<AccuracyPreset> build_presets() {
  auto tiny = make_preset("tiny", "seconds on CPU, for tests (4 x 4 grid)", 32, 48, 2, 2, 48, 2);
  // 16 tokens of 8 x 8 pixels: fast enough that a test trains stage 0 and sees colour learnt.
  tiny.model.encoder.patch_size(8);
  tiny.train_size = 8000;
  tiny.test_size = 250;
  tiny.batch = 32;
  tiny.steps0 = 300;
  tiny.steps1 = 10;
  tiny.steps2 = 10;
  tiny.lr0 = 3e-3;

  // 12 blocks, so that the paper's placements 1/12, 1/6, 1/4, 1/2 and 1 are
  // five different blocks (1, 2, 3, 6, 12; 8 blocks made 1/12 and 1/6 both
  // block 1). Patches of 6 px (an 8 x 8 grid of 64 tokens, was 4 px and
  // 12 x 12) pay for the depth: 600 stage-0 steps took 187 s at 12 blocks of
  // 64 tokens and 319 s at 8 blocks of 144 (two one-thread runs side by side,
  // 2026-12-01). lr0 1e-3 (was 2e-3): the shape family trained alone stayed at
  // chance for 600 steps at 2e-3 and reached 52% at 5e-4.
  auto small = make_preset("small", "about a minute per run on one CPU core (8 x 8 grid, 12 blocks)", 48, 64, 12, 2,
                           64, 2);
  small.model.encoder.patch_size(6);
  // Stage 0 (cached, shared by the seeds of a sweep) carries the cost; a
  // method's run is 150 steps, so that a sweep of many runs fits on 2 cores.
  // Letters at scale 4 (12 x 20 px, two patches wide; was 3): text 44.6 ->
  // 63.8 after the same 2000 stage-0 steps, the other families within a
  // few points (seed 0, stage 0 only, 2026-12-01).
  small.data.glyph_scale = 4;
  small.train_size = 100000;
  // 500 questions per family: a family's 95% interval is about +-4 points at
  // 50-80% (binomial: 1.96 sqrt(p(1-p)/500) = 3.5..4.4); 200 gave +-6..7.
  small.test_size = 2500;
  small.batch = 32;
  small.steps0 = 2500;
  small.steps1 = 50;
  small.steps2 = 100;
  small.lr0 = 1e-3;
  small.lr1 = 1e-3;
  small.lr2 = 5e-4;
  // Stage 0: 2500 steps (was 2000) drawing colour 1 : shape 4 : count 2 :
  // spatial 2 : text 4 (was one in five each), the families introduced over
  // the first 30% of the steps (was 50%). Colour and count are learnt in a
  // few hundred steps, then give little gradient; the batch is better spent
  // on shape and text, which were still rising when stage 0 ended. Stage 0
  // only, seed 0, 2026-12-01 (spatial vertical in all): one in five each,
  // 2000 steps: text 63.8; this mix at curriculum 50%: text 83.0 (shape 91.6);
  // at 30%: shape 87.8, count 89.2, text 90.2; at 30% with 2500 steps: colour
  // 97.6, shape 91.8, count 99.2, spatial 95.8, text 91.8, but after stages
  // 1 + 2 (the main job's `none`, 3 seeds) shape 84.1. Shape drawn 4 (was 3):
  // stage 0 alone colour 96.6, shape 93.4, count 97.4, spatial 98.0, text
  // 92.4; after stages 1 + 2 (seeds 0-2 on that stage 0) colour 97.9, shape
  // 91.7, count 97.9, spatial 97.5, text 90.3 (88.6, 90.4, 91.8). Drawing the
  // mix in stages 1 + 2 too read shape 94.0, text 90.7 (88.0 at seed 0): too
  // little gain to change how every method trains.
  small.curriculum = 0.3;
  small.stage0_mix = {1, 4, 2, 2, 4};

  auto base = make_preset("base", "for a GPU (24 x 24 grid, 12 blocks)", 96, 256, 12, 4, 256, 4);
  base.data.glyph_scale = 3;
  base.train_size = 400000;
  base.test_size = 5000;
  base.batch = 64;
  base.steps0 = 20000;
  base.steps1 = 2000;
  base.steps2 = 4000;
  base.lr0 = 5e-4;
  base.lr1 = 5e-4;
  base.lr2 = 1e-4;
  base.log_every = 50;
  return {tiny, small, base};
}

}  // namespace

const std::vector<AccuracyPreset>& accuracy_presets() {
  static const std::vector<AccuracyPreset> all = build_presets();
  return all;
}

const AccuracyPreset& find_accuracy_preset(const std::string& name) {
  return find_named(accuracy_presets(), name, "accuracy preset", "--preset");
}

std::string format_accuracy_presets() {
  std::string out;
  for (const auto& p : accuracy_presets()) {
    out += fmt::format("{} (accuracy): {}\n", p.name, p.summary) + describe_model(p.model);
    out += fmt::format("  data     SynthVQA {} px, train {} samples, test {}; batch {}\n", p.data.image_size,
                       p.train_size, p.test_size, p.batch);
    out += fmt::format("  steps    stage 0 {} (lr {:g}, families introduced over the first {:g}%), stage 1 {} (lr {:g}), "
                       "stage 2 {} (lr {:g})\n",
                       p.steps0, p.lr0, p.curriculum * 100, p.steps1, p.lr1, p.steps2, p.lr2);
    if (!p.stage0_mix.empty()) {
      std::vector<std::string> shares;
      const double total = std::accumulate(p.stage0_mix.begin(), p.stage0_mix.end(), 0.0);
      for (size_t f = 0; f < p.stage0_mix.size(); ++f)
        shares.push_back(fmt::format("{} {:.0f}%", vqa_families()[f], 100 * p.stage0_mix[f] / total));
      out += fmt::format("  mix      stage 0 draws {}\n", join(shares, ", "));
    }
    out += "\n";
  }
  return out;
}

}  // namespace laco
