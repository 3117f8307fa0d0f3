#include "evals/vqa_training.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>

#include <torch/torch.h>

#include "evals/vqa_data.h"
#include "harness/base/error.h"
#include "harness/base/progress.h"
#include "harness/base/text.h"

namespace laco {
namespace {

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

bool generated_data(const std::string& data) { return data.empty() || data == "synthvqa"; }

std::vector<double> stage0_mix(const AccuracyPreset& p, const std::string& train_data) {
  return generated_data(train_data) ? p.stage0_mix : std::vector<double>{};
}

MllmOptions accuracy_model(const AccuracyPreset& preset, const VqaVocabulary& vocab) {
  MllmOptions m = preset.model;
  m.lm.vocab(vocab.size());
  return m;
}

const VqaVocabulary& train_vocabulary(const std::string& train_data) {
  if (generated_data(train_data)) return VqaVocabulary::synthvqa();
  // Asked for by the run's key, its cache path and the run itself: the
  // JSONL's text is parsed once per content (its images are not read here).
  static std::mutex mutex;
  static std::map<std::string, VqaVocabulary> built;
  const std::string key = vqa_data_identity(train_data);
  const std::lock_guard<std::mutex> lock(mutex);
  auto it = built.find(key);
  if (it == built.end()) it = built.emplace(key, VqaVocabulary::from_samples(load_vqa(train_data, false))).first;
  return it->second;
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

VqaBatches vqa_split(const AccuracyPreset& preset, uint64_t seed, const std::string& split, int64_t size,
                     std::vector<VqaSample> user, const VqaVocabulary& vocab) {
  if (user.empty()) return VqaBatches(preset, seed, split, size, vocab);
  return VqaBatches(preset, std::move(user), vocab);
}

Mllm new_stage0_model(const MllmOptions& options, uint64_t seed) {
  torch::manual_seed(seed);
  return Mllm(options);
}

TrainLog train_stage0(Mllm& model, const RunSpec& run, const AccuracyPreset& preset, const VqaBatches& train,
                      uint64_t seed, Progress* progress, const std::function<void(int64_t)>& on_log) {
  const AccuracySettings& a = run.accuracy();
  return train_vqa(model, set_stage(model, 0), train, a.steps0, a.lr0, a.batch, preset.log_every, seed * 3 + 0,
                   progress, on_log, a.curriculum, "stage 0", stage0_mix(preset, a.train_data));
}

}  // namespace laco
