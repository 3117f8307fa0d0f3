#include "evals/accuracy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>

#include <torch/torch.h>

#include "evals/vqa_data.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/host.h"
#include "harness/base/json_check.h"
#include "harness/base/named.h"
#include "harness/base/progress.h"
#include "harness/base/safetensors.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/presets.h"
#include "methods/registry.h"

namespace laco {
namespace fs = std::filesystem;

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

// The 64-bit FNV-1a of text. Only for the `stage0_key` identity that every
// stored accuracy run's key contains (changing it would orphan them); the
// cache file and its check use SHA-256.
uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

bool generated(const std::string& data) { return data.empty() || data == "synthvqa"; }

// Stage 0's family mix: the preset's on generated data; user data is drawn as it is.
std::vector<double> stage0_mix(const AccuracyPreset& p, const std::string& train_data) {
  return generated(train_data) ? p.stage0_mix : std::vector<double>{};
}

nlohmann::json model_json(const MllmOptions& m) {
  const auto& e = m.encoder;
  const auto& l = m.lm;
  return {{"encoder", {e.image_size(), e.patch_size(), e.width(), e.depth(), e.heads(), e.mlp_dim()}},
          {"lm", {l.vocab(), l.width(), l.layers(), l.heads(), l.kv_heads(), l.mlp_dim()}}};
}

// Everything stage 0 depends on; its hash names the cache file.
nlohmann::json stage0_key(const std::string& preset, int64_t steps0, const std::string& train_data, uint64_t seed) {
  const auto& p = find_accuracy_preset(preset);
  const VqaVocabulary& vocab = train_vocabulary(train_data);
  // The train data's digest is FNV-1a as it always was: it is part of the stage0_key identity above.
  const std::string digest =
      generated(train_data) ? std::string() : fmt::format("{:016x}", fnv1a(read_file_bytes(train_data)));
  // version: bumped whenever the generator or the training loop changes what stage 0 learns.
  nlohmann::json key = {{"version", 2},
                        {"preset", p.name},
                        {"model", model_json(accuracy_model(p, vocab))},
                        {"data", {p.data.image_size, p.data.glyph_scale, p.train_size, p.question_tokens}},
                        {"train_data", digest},
                        {"steps0", steps0},
                        {"lr0", p.lr0},
                        {"batch", p.batch},
                        {"curriculum", p.curriculum},
                        {"seed", seed}};
  // User data brings its own vocabulary. SynthVQA's is fixed, and its keys
  // stay as they were: they are every stored run's stage0_key identity.
  if (!generated(train_data)) key["vocabulary"] = {{"size", vocab.size()}, {"sha256", vocab.sha256()}};
  const auto mix = stage0_mix(p, train_data);
  if (!mix.empty()) key["mix"] = mix;  // absent: one in five each, as before
  return key;
}

nlohmann::json stage0_key(const RunSpec& run) {
  return stage0_key(run.preset, run.accuracy().steps0, run.accuracy().train_data, accuracy_data_seed(run));
}

// What the cache file must have been trained with to be reused: the
// configuration (stage0_key, which also names the file) and the code, i.e.
// the sources that determine the weights and the LibTorch version (numerics).
nlohmann::json stage0_cache_key(const RunSpec& run) {
  nlohmann::json key = stage0_key(run);
  key["code"] = {{"sources_sha256", stage0_sources_sha256()}, {"torch", TORCH_VERSION}};
  return key;
}

// Why a cache file's stored key is not `wanted` ("" when it is).
std::string stage0_mismatch(const std::string& stored, const nlohmann::json& wanted) {
  if (stored == wanted.dump()) return "";
  nlohmann::json old;
  if (!parse_json(stored, old).empty() || !old.is_object()) return "its stored key is not JSON";
  if (!old.contains("code"))
    return "it was written before the code was part of the stage-0 cache key (its code is unknown)";
  std::vector<std::string> parts;
  for (const auto& [field, value] : wanted["code"].items())
    if (old["code"].value(field, nlohmann::json()) != value)
      parts.push_back(fmt::format("{} {} (this build: {})", field, old["code"].value(field, nlohmann::json()).dump(),
                                  value.dump()));
  for (const auto& [field, value] : wanted.items())
    if (field != "code" && old.value(field, nlohmann::json()) != value)
      parts.push_back(fmt::format("{} {} (this run: {})", field, old.value(field, nlohmann::json()).dump(), value.dump()));
  return parts.empty() ? "its stored key differs" : "it was trained by other code or settings: " + join(parts, "; ");
}

// Scored among the family's candidate answers, as multiple-choice benchmarks
// (MMBench, SEED-Bench) score: SynthVQA measures what the image tokens still
// carry, not whether a small LM learnt which answers fit which question.
torch::Tensor answer_logits(Mllm& model, const VqaBatches::Batch& b) {
  // A checkpoint's LM has more ids than the data's words; its others are never answers.
  return model->prefill(b.images, b.ids)
      .narrow(-1, 0, b.candidates.size(1))
      .masked_fill(b.candidates.logical_not(), -1e9);
}

double cosine_lr(double lr, int64_t step, int64_t steps) {
  const int64_t warmup = std::max<int64_t>(1, steps / 10);
  if (step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  const double t = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, steps - warmup));
  return lr * (0.1 + 0.9 * 0.5 * (1.0 + std::cos(M_PI * t)));
}

}  // namespace

uint64_t accuracy_data_seed(const RunSpec& run) {
  const int64_t shared = run.accuracy().stage0_seed;
  return shared >= 0 ? static_cast<uint64_t>(shared) : run.seed;
}

MllmOptions accuracy_model(const AccuracyPreset& preset, const VqaVocabulary& vocab) {
  MllmOptions m = preset.model;
  m.lm.vocab(vocab.size());
  return m;
}

const VqaVocabulary& train_vocabulary(const std::string& train_data) {
  if (generated(train_data)) return VqaVocabulary::synthvqa();
  // Asked for by the run's key, its cache path and the run itself: the
  // JSONL's text is parsed once per content (its images are not read here).
  static std::mutex mutex;
  static std::map<std::string, VqaVocabulary> built;
  const std::string key = train_data + "\n" + sha256_hex(read_file_bytes(train_data));
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = built.find(key);
  if (it == built.end()) it = built.emplace(key, VqaVocabulary::from_samples(load_vqa(train_data, false))).first;
  return it->second;
}

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

VqaBatches::VqaBatches(const AccuracyPreset& preset, uint64_t seed, const std::string& split, int64_t size,
                       const VqaVocabulary& vocab)
    : preset_(&preset), vocab_(&vocab), seed_(seed), split_(split), size_(size) {}

VqaBatches::VqaBatches(const AccuracyPreset& preset, std::vector<VqaSample> samples, const VqaVocabulary& vocab)
    : preset_(&preset), vocab_(&vocab), size_(static_cast<int64_t>(samples.size())), samples_(std::move(samples)) {}

VqaSample VqaBatches::sample(int64_t index) const {
  if (!samples_.empty()) return samples_.at(static_cast<size_t>(index));
  return generate_vqa_sample(preset_->data, seed_, split_, index);
}

std::string VqaBatches::family(int64_t index) const {
  if (!samples_.empty()) return samples_.at(static_cast<size_t>(index)).family;
  return vqa_families()[static_cast<size_t>(index % static_cast<int64_t>(vqa_families().size()))];
}

VqaBatches::Batch VqaBatches::batch(const std::vector<int64_t>& indices) const {
  const auto& vocab = *vocab_;
  std::vector<VqaSample> samples;
  samples.reserve(indices.size());
  for (int64_t i : indices) samples.push_back(sample(i));
  std::vector<const RgbImage*> images;
  std::vector<int64_t> ids, answers;
  Batch b;
  for (const auto& s : samples) {
    images.push_back(&s.image);
    const auto q = vocab.encode(s.question, preset_->question_tokens);
    ids.insert(ids.end(), q.begin(), q.end());
    answers.push_back(vocab.answer_id(s.answer));
    b.families.push_back(s.family);
    b.question_ids.push_back(s.id);
    b.answer_words.push_back(s.answer);
  }
  const auto n = static_cast<int64_t>(samples.size());
  b.images = images_to_tensor(images, preset_->data.image_size);
  b.ids = torch::tensor(ids, torch::kLong).view({n, preset_->question_tokens});
  b.answers = torch::tensor(answers, torch::kLong);
  std::vector<uint8_t> mask(static_cast<size_t>(n * vocab.size()), 0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a : vocab.candidates(b.families[static_cast<size_t>(i)]))
      mask[static_cast<size_t>(i * vocab.size() + a)] = 1;
  b.candidates = torch::from_blob(mask.data(), {n, vocab.size()}, torch::kUInt8).to(torch::kBool);
  return b;
}

std::vector<torch::Tensor> set_stage(Mllm& model, int stage) {
  std::vector<torch::Tensor> trainable;
  for (auto& p : model->parameters()) p.set_requires_grad(stage != 1);
  if (stage != 1) return model->parameters();
  for (auto& p : model->projector->parameters()) {
    p.set_requires_grad(true);
    trainable.push_back(p);
  }
  if (const auto& c = model->encoder->compressor())
    for (auto& p : c->parameters()) {
      p.set_requires_grad(true);
      trainable.push_back(p);
    }
  return trainable;
}

int64_t curriculum_families(int64_t step, int64_t steps, double curriculum) {
  // The families enter one at a time, coarse to fine, over the first
  // `curriculum` of the steps. Mixed from the start, the families not yet
  // learnt drown the gradient of the ones being learnt (measured on tiny:
  // colour alone learns in 100 steps, in the mix it stays at chance for 400);
  // a learnt family contributes little gradient, so the next one trains on a
  // clean signal.
  const auto nf = static_cast<int64_t>(vqa_families().size());
  if (curriculum <= 0) return nf;
  const int64_t intro = std::max<int64_t>(1, static_cast<int64_t>(curriculum * static_cast<double>(steps)) / nf);
  return std::min(nf, 1 + step / intro);
}

TrainDraw::TrainDraw(const VqaBatches& data, uint64_t seed, std::vector<double> mix)
    : data_(&data), rng_(seed), order_(static_cast<size_t>(data.size())) {
  if (data.size() < 1) fail("training: the train data holds no samples");
  std::iota(order_.begin(), order_.end(), 0);
  std::shuffle(order_.begin(), order_.end(), rng_);
  if (mix.empty()) return;
  const auto nf = vqa_families().size();
  if (mix.size() != nf) fail("training: the family mix has {} weights (allowed: {}, one per family)", mix.size(), nf);
  const double top = *std::max_element(mix.begin(), mix.end());
  for (double w : mix) {
    if (!(w > 0) || !std::isfinite(w))
      fail("training: family mix weight {} (allowed: a finite number > 0; a family drawn never cannot be learnt)", w);
    keep_.push_back(w / top);
  }
}

std::vector<int64_t> TrainDraw::next(int64_t batch, int64_t allowed_families) {
  const auto& families = vqa_families();
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<int64_t> idx;
  while (static_cast<int64_t>(idx.size()) < batch) {
    if (cursor_ == order_.size()) {  // next epoch, new order
      std::shuffle(order_.begin(), order_.end(), rng_);
      cursor_ = 0;
    }
    const int64_t i = order_[cursor_++];
    const auto f = std::find(families.begin(), families.end(), data_->family(i));
    if (f == families.end()) {  // user data: no SynthVQA family
      idx.push_back(i);
      continue;
    }
    const auto rank = static_cast<size_t>(f - families.begin());
    if (static_cast<int64_t>(rank) >= allowed_families) continue;
    if (!keep_.empty() && keep_[rank] < 1.0 && coin(rng_) >= keep_[rank]) continue;
    idx.push_back(i);
  }
  return idx;
}

TrainLog train_vqa(Mllm& model, const std::vector<torch::Tensor>& params, const VqaBatches& data, int64_t steps,
                   double lr, int64_t batch, int64_t log_every, uint64_t seed, Progress* progress,
                   const std::function<void(int64_t)>& on_log, double curriculum, const std::string& stage,
                   const std::vector<double>& mix) {
  TrainLog log;
  if (steps <= 0) return log;
  const auto t0 = std::chrono::steady_clock::now();
  model->train();
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(lr).weight_decay(0.01));
  TrainDraw draw(data, seed, mix);
  double running = 0;
  int64_t since = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const auto idx = draw.next(batch, curriculum_families(step, steps, curriculum));
    const auto b = data.batch(idx);
    // The vocabulary is the train data's: every train answer is a class.
    if (b.answers.lt(0).any().item<bool>()) fail("{}: a train answer is not in the vocabulary", stage);
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(cosine_lr(lr, step, steps));
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(answer_logits(model, b), b.answers);
    const double value = loss.item<double>();
    if (!std::isfinite(value)) fail("training diverged: loss is {} at step {}", value, step);
    loss.backward();
    torch::nn::utils::clip_grad_norm_(params, 1.0);
    optimizer.step();
    running += value;
    ++since;
    if ((step + 1) % log_every == 0 || step + 1 == steps) {
      log.loss.emplace_back(step + 1, running / static_cast<double>(since));
      log.final_loss = running / static_cast<double>(since);
      running = 0;
      since = 0;
      if (on_log) {
        on_log(step + 1);
        model->train();
      }
    }
    if (progress) progress->step(fmt::format("{} step {}/{} loss {:.3f}", stage, step + 1, steps, value));
  }
  log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return log;
}

std::map<std::string, double> evaluate_vqa(Mllm& model, const VqaBatches& data, int64_t batch,
                                           std::vector<Prediction>* predictions, VqaCoverage* coverage) {
  const auto& vocab = data.vocabulary();
  if (predictions) predictions->clear();
  if (coverage) *coverage = VqaCoverage();
  torch::NoGradGuard no_grad;
  model->eval();
  std::map<std::string, std::pair<int64_t, int64_t>> counts;  // family -> (correct, total)
  for (int64_t start = 0; start < data.size(); start += batch) {
    std::vector<int64_t> idx;
    for (int64_t i = start; i < std::min(data.size(), start + batch); ++i) idx.push_back(i);
    const auto b = data.batch(idx);
    const auto predicted = answer_logits(model, b).argmax(-1);
    const auto correct = predicted.eq(b.answers);  // an answer of id -1 is never predicted: wrong
    const auto unknown = b.ids.eq(vocab.unk()).any(1);
    for (size_t i = 0; i < idx.size(); ++i) {
      auto& c = counts[b.families[i].empty() ? "unlabelled" : b.families[i]];
      const bool ok = correct[static_cast<int64_t>(i)].item<bool>();
      c.first += ok;
      ++c.second;
      if (coverage) {
        ++coverage->questions;
        if (b.answers[static_cast<int64_t>(i)].item<int64_t>() < 0) {
          ++coverage->unanswerable;
          ++coverage->unanswerable_answers[b.answer_words[i]];
        }
        coverage->unknown_words += unknown[static_cast<int64_t>(i)].item<bool>();
      }
      if (predictions)
        predictions->push_back({b.question_ids[i].empty() ? std::to_string(idx[i]) : b.question_ids[i], b.families[i],
                                b.answer_words[i], vocab.word(predicted[static_cast<int64_t>(i)].item<int64_t>()), ok});
    }
  }
  std::map<std::string, double> acc;
  int64_t all_correct = 0, all = 0;
  double sum = 0;
  for (const auto& [family, c] : counts) {
    acc[family] = 100.0 * static_cast<double>(c.first) / static_cast<double>(c.second);
    sum += acc[family];
    all_correct += c.first;
    all += c.second;
  }
  acc["overall"] = all ? 100.0 * static_cast<double>(all_correct) / static_cast<double>(all) : 0.0;
  acc["mean"] = counts.empty() ? 0.0 : sum / static_cast<double>(counts.size());
  return acc;
}

std::string stage0_cache_path(const RunSpec& run, const std::string& cache_dir) {
  return (fs::path(cache_dir) / fmt::format("stage0-{}-{}.safetensors", run.preset,
                                            sha256_hex(stage0_key(run).dump()).substr(0, 16)))
      .string();
}

namespace {

// Why a loaded cache file cannot be reused for `run` ("" when it can).
std::string stage0_file_problem(const SafeTensors& file, const RunSpec& run) {
  auto it = file.metadata().find("stage0_key");
  if (it == file.metadata().end()) return "it has no stage0_key metadata";
  return stage0_mismatch(it->second, stage0_cache_key(run));
}

}  // namespace

std::string stage0_cache_problem(const RunSpec& run, const std::string& cache_dir) {
  const std::string path = stage0_cache_path(run, cache_dir);
  return fs::exists(path) ? stage0_file_problem(SafeTensors::load(path), run) : "absent";
}

RunSpec resolve_accuracy_config(const AccuracyConfig& c) {
  const auto& p = find_accuracy_preset(c.preset);
  find_method(c.method);
  if (c.threads < 1) fail("--threads: must be >= 1, got {}", c.threads);
  for (auto [v, f] : {std::pair{c.steps0, "--steps0"}, {c.steps1, "--steps1"}, {c.steps2, "--steps2"}})
    if (v < -1) fail("{}: must be >= 0, got {}", f, v);
  const MllmOptions model = run_model(c.model, p.model);
  RunSpec spec = resolve_method_placement(c, model);
  for (const auto* path : {&c.train_data, &c.test_data})
    if (!path->empty() && !fs::exists(*path)) fail("{}: no such file", *path);
  if (!c.model.empty()) {
    if (c.steps0 > 0)
      fail("--steps0: a run from --model {} starts from the checkpoint's weights, so stage 0 does not run "
           "(allowed: 0 or unset)",
           c.model);
    // No tokenizer: the train data's words are ids 0..n-1 of the LM's vocabulary (a checkpoint's LM has its own).
    const int64_t words = train_vocabulary(c.train_data.empty() ? "synthvqa" : c.train_data).size();
    if (model.lm.vocab() < words)
      fail("--model {}: the LM's vocab_size {} is smaller than the train data's vocabulary of {} words (each word is "
           "one token id below {})",
           c.model, model.lm.vocab(), words, words);
  }
  auto pick = [](int64_t v, int64_t preset) { return v >= 0 ? v : preset; };
  AccuracySettings a;
  a.steps0 = pick(c.steps0, p.steps0);
  a.steps1 = pick(c.steps1, p.steps1);
  a.steps2 = pick(c.steps2, p.steps2);
  a.lr0 = p.lr0;
  a.lr1 = p.lr1;
  a.lr2 = p.lr2;
  a.curriculum = p.curriculum;
  a.batch = p.batch;
  a.train_data = c.train_data.empty() ? "synthvqa" : c.train_data;
  a.test_data = c.test_data.empty() ? "synthvqa" : c.test_data;
  a.test_size = p.test_size;
  a.stage0_seed = c.stage0_seed;
  if (!spec.checkpoint.empty()) a.steps0 = 0;
  spec.settings = a;
  // The identity of the resolved run's stage 0 (its seed: accuracy_data_seed()),
  // or of the checkpoint that replaces it.
  std::get<AccuracySettings>(spec.settings).stage0_key =
      spec.checkpoint.empty() ? fmt::format("{:016x}", fnv1a(stage0_key(spec).dump()))
                              : spec.checkpoint_sha256.substr(0, 16);
  return spec;
}

AccuracyConfig accuracy_config(const RunRequest& request, const nlohmann::json& settings) {
  auto c = request_as<AccuracyConfig>(request);
  take_setting(settings, "steps0", c.steps0);
  take_setting(settings, "steps1", c.steps1);
  take_setting(settings, "steps2", c.steps2);
  take_setting(settings, "stage0_seed", c.stage0_seed);
  take_setting(settings, "train_data", c.train_data);
  take_setting(settings, "test_data", c.test_data);
  return c;
}

const std::vector<SettingInfo>& accuracy_settings() {
  using K = SettingKind;
  static const std::vector<SettingInfo> settings = {
      {"steps0", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-0 steps"},
      {"steps1", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-1 steps"},
      {"steps2", K::kInteger, 0, kMaxTrainingSteps, 0, 0, {}, "Stage-2 steps"},
      {"stage0_seed", K::kInteger, 0, kMaxSeed, 0, 0, {}, "Share the stage-0 model (and data) of this seed across seeds"},
      {"train_data", K::kString, 0, 0, 0, 0, {}, "LLaVA-layout JSONL to train on instead of SynthVQA"},
      {"test_data", K::kString, 0, 0, 0, 0, {}, "LLaVA-layout JSONL to evaluate on instead of SynthVQA"},
  };
  return settings;
}

int64_t accuracy_units(const RunSpec& run) {
  const AccuracySettings& a = run.accuracy();
  return a.steps0 + a.steps1 + a.steps2 + 1;
}

RunRecord run_accuracy(const RunSpec& run, const RunContext& context) {
  const AccuracySettings& a = run.accuracy();
  Progress* progress = context.progress;
  // User data is read and checked in full before anything trains; the
  // vocabulary comes from the train data alone (train_vocabulary()).
  const VqaVocabulary& vocab = train_vocabulary(a.train_data);
  AccuracyPreset preset = find_accuracy_preset(run.preset);
  const MllmOptions model_options = run_model(run.checkpoint, accuracy_model(preset, vocab));
  // Images at the size the model's encoder takes (a checkpoint's may differ from the preset's).
  preset.data.image_size = model_options.encoder.image_size();
  std::vector<VqaSample> user_train, user_test;
  if (!generated(a.train_data)) user_train = load_vqa(a.train_data);
  if (!generated(a.test_data)) user_test = load_vqa(a.test_data);
  // One benchmark per pretrained model: with a shared stage 0 every seed sees
  // the data of the stage-0 seed, and the run's seed varies the method's
  // initialisation and the stage 1/2 batch order.
  const uint64_t data_seed = accuracy_data_seed(run);
  const VqaBatches train = user_train.empty() ? VqaBatches(preset, data_seed, "train", preset.train_size, vocab)
                                              : VqaBatches(preset, std::move(user_train), vocab);
  const VqaBatches test = user_test.empty() ? VqaBatches(preset, data_seed, "test", a.test_size, vocab)
                                            : VqaBatches(preset, std::move(user_test), vocab);

  set_threads(run.threads);
  RunRecord rec;
  rec.spec = run;
  rec.provenance = Provenance::here("cpu");
  rec.provenance.started_at = utc_now();
  const auto wall0 = std::chrono::steady_clock::now();
  auto step = [&](const std::string& what) {
    if (progress) progress->step(what);
  };

  rec.facts["vocabulary"] = vocab.summary();
  torch::manual_seed(data_seed);
  Mllm model(model_options);
  // Evaluation runs without gradients, through the encoder's fused path.
  rec.facts["encoder_inference_kernels"] = encoder_inference_kernels(model->encoder->options());
  const int64_t steps0 = a.steps0, steps1 = a.steps1, steps2 = a.steps2;

  double stage0_seconds = 0;
  if (!run.checkpoint.empty()) {
    // Released weights instead of stage 0: the pretrained MLLM the method goes into.
    rec.facts["checkpoint_load"] = load_run_checkpoint(*model, run);
    rec.facts["stage0"] = "none: the model starts from the checkpoint's weights";
  } else {
    // Stage 0: the uncompressed MLLM, trained once per configuration and cached.
    const std::string cache = stage0_cache_path(run, context.cache_dir);
    const std::string key = stage0_cache_key(run).dump();
    bool cached = false;
    // Held until stage 0 is cached: a second process (a second sweep worker on
    // the same database and cache) that needs the same stage 0 waits and reuses
    // it instead of training it again beside the first.
    const MadeDirectories cache_folder(context.cache_dir);
    std::optional<FileLock> lock;
    lock.emplace(cache + ".lock", [&] {
      if (progress)
        progress->print(fmt::format("waiting for stage 0 {}: another process is loading or training it", cache));
    });
    // Read once: its key decides whether its weights are used.
    std::optional<SafeTensors> file;
    if (fs::exists(cache)) file = SafeTensors::load(cache);
    const std::string problem = file ? stage0_file_problem(*file, run) : "absent";
    if (!problem.empty()) file.reset();  // stale weights are not kept while stage 0 trains
    if (problem.empty()) {
      torch::NoGradGuard no_grad;
      for (auto& p : model->named_parameters()) p.value().copy_(file->get(p.key()));
      cached = true;
    } else if (problem != "absent") {
      // A file of this configuration that this build must not reuse: trained again, and replaced.
      const std::string why = fmt::format("stage 0 {} is not reused: {}; training it again", cache, problem);
      if (progress) progress->print(why);
      rec.facts["stage0_retrained"] = why;
    }
    if (!cached && context.lost_inputs && context.lost_inputs->count(cache))
      fail("stage 0 {} was trained earlier in this process but could not be cached ({}); not trained again (allowed: "
           "free space in {} and rerun with --retry-failed)",
           cache, context.lost_inputs->at(cache), context.cache_dir);
    if (!cached) {
      if (progress) progress->note("stage 0");
      // Scored on SynthVQA's validation split a few times, to show which
      // families learn and how fast. Not for user train data: it has no
      // validation split, and SynthVQA's questions are not in its vocabulary.
      const VqaBatches val(preset, data_seed, "val", generated(a.train_data) ? preset.val_size : 0, vocab);
      const int64_t every = std::max<int64_t>(preset.log_every, steps0 / std::max<int64_t>(1, preset.val_points));
      double scoring_seconds = 0;
      auto score = [&](int64_t step) {
        if (val.size() == 0 || (step % every != 0 && step != steps0)) return;
        const auto t = std::chrono::steady_clock::now();
        for (const auto& [family, value] : evaluate_vqa(model, val, 2 * a.batch))
          rec.series["val_acc_stage0_" + family].emplace_back(step, value);
        scoring_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      };
      const auto log = train_vqa(model, set_stage(model, 0), train, steps0, a.lr0, a.batch, preset.log_every,
                                 data_seed * 3 + 0, progress, score, a.curriculum, "stage 0",
                                 stage0_mix(preset, a.train_data));
      stage0_seconds = log.seconds - scoring_seconds;
      rec.add("stage0_final_loss", log.final_loss, "nats");
      for (const auto& [s, v] : log.loss) rec.series["loss_stage0"].emplace_back(s, v);
      NamedTensors tensors;
      for (const auto& p : model->named_parameters()) tensors.emplace_back(p.key(), p.value());
      try {
        save_safetensors(cache, tensors, {{"stage0_key", key}, {"vocabulary", vocab.to_json().dump()}});
      } catch (const Error& e) {
        if (context.lost_inputs) (*context.lost_inputs)[cache] = e.what();
        throw;
      }
    }
    lock.reset();
    rec.facts["stage0_cached"] = cached;
    rec.facts["stage0_cache"] = cache;
    if (cached && progress) progress->advance(steps0, "stage 0 (cached)");
  }

  // Insert the method after block k of the pretrained encoder, freshly
  // initialised (after the encoder, as the projector where its reference is one).
  torch::manual_seed(run.seed * 7919 + 1);
  insert_method(model, run);

  if (progress) progress->note("stage 1");
  const auto log1 = train_vqa(model, set_stage(model, 1), train, steps1, a.lr1, a.batch, preset.log_every,
                              run.seed * 3 + 1, progress, {}, 0, "stage 1");
  if (progress) progress->note("stage 2");
  const auto log2 = train_vqa(model, set_stage(model, 2), train, steps2, a.lr2, a.batch, preset.log_every,
                              run.seed * 3 + 2, progress, {}, 0, "stage 2");

  if (progress) progress->note("evaluation");
  const auto t_eval = std::chrono::steady_clock::now();
  VqaCoverage coverage;
  const auto acc = evaluate_vqa(model, test, 2 * a.batch, &rec.predictions, &coverage);
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_eval).count();
  step("evaluation");
  // What the test split asks that training never showed: counted, not refused.
  rec.facts["unanswerable_test_questions"] = coverage.unanswerable;
  rec.facts["unknown_word_test_questions"] = coverage.unknown_words;
  if (coverage.unanswerable > 0) {
    std::vector<std::pair<int64_t, std::string>> by_count;
    for (const auto& [answer, n] : coverage.unanswerable_answers) by_count.emplace_back(-n, answer);
    std::sort(by_count.begin(), by_count.end());
    nlohmann::json listed = nlohmann::json::object();
    std::vector<std::string> shown;
    for (size_t i = 0; i < std::min<size_t>(20, by_count.size()); ++i) {
      listed[by_count[i].second] = -by_count[i].first;
      shown.push_back(fmt::format("'{}' ({})", by_count[i].second, -by_count[i].first));
    }
    rec.facts["unanswerable_test_answers"] = listed;
    if (progress)
      progress->print(fmt::format("{} of {} test questions have an answer no train sample has, scored wrong: {}{}",
                                  coverage.unanswerable, coverage.questions, join(shown),
                                  by_count.size() > shown.size()
                                      ? fmt::format(" and {} more answers", by_count.size() - shown.size())
                                      : ""));
  }

  for (const auto& family : vqa_families())
    if (acc.count(family)) rec.add("acc_" + family, acc.at(family), "%");
  for (const auto& [family, value] : acc)
    if (family != "overall" && family != "mean" &&
        std::find(vqa_families().begin(), vqa_families().end(), family) == vqa_families().end())
      rec.add("acc_" + family, value, "%");
  rec.add("acc_overall", acc.at("overall"), "%");
  rec.add("acc_mean", acc.at("mean"), "%");
  rec.add("visual_tokens", static_cast<double>(model->visual_tokens(1)), "tokens");
  rec.add("stage1_final_loss", log1.final_loss, "nats");
  rec.add("stage2_final_loss", log2.final_loss, "nats");
  rec.add("stage0_time", stage0_seconds, "s");
  rec.add("stage1_time", log1.seconds, "s");
  rec.add("stage2_time", log2.seconds, "s");
  rec.add("eval_time", eval_seconds, "s");
  for (const auto& [s, v] : log1.loss) rec.series["loss_stage1"].emplace_back(s, v);
  for (const auto& [s, v] : log2.loss) rec.series["loss_stage2"].emplace_back(s, v);

  rec.provenance.threads = describe_threads();
  rec.provenance.finished_at = utc_now();
  rec.provenance.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return rec;
}

}  // namespace laco
