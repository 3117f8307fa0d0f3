#include "evals/metrics.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "evals/flops.h"
#include "evals/synthvqa.h"
#include "harness/base/error.h"

namespace laco {
namespace {

const char* kAccuracy = "accuracy";
const char* kEfficiency = "efficiency";
const char* kBenchmark = "benchmark";
const char* kFinetune = "finetune";

// The placeholder of a family's name, and where it stands ("" / npos for a plain name).
std::pair<std::string, size_t> placeholder(const std::string& name) {
  for (const char* p : {"{n}", "{family}", "{metric}"}) {
    const auto at = name.find(p);
    if (at != std::string::npos) return {p, at};
  }
  return {"", std::string::npos};
}

bool fills(const std::string& placeholder, const std::string& value) {
  if (value.empty()) return false;
  if (placeholder == "{n}") return std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); });
  return true;  // {family}: a data set's own family names; {metric}: a task's own metric names
}

struct Builder {
  std::vector<MetricInfo> out;

  MetricInfo& add(std::string name, std::string eval, std::string unit, Better better, int decimals,
                  Statistic statistic, Noise noise, std::string description, std::string model = "") {
    MetricInfo m;
    m.name = std::move(name);
    m.eval = std::move(eval);
    m.unit = std::move(unit);
    m.better = better;
    m.decimals = decimals;
    m.statistic = statistic;
    m.noise = noise;
    m.description = std::move(description);
    m.model = std::move(model);
    out.push_back(std::move(m));
    return out.back();
  }
  // A timing stored with its repetitions (EfficiencySession::add_timing), and its _min and _max.
  void timing(const std::string& name, const std::string& description, const std::string& model = "",
                     int decimals = 1) {
    add(name, kEfficiency, "ms", Better::kLower, decimals, Statistic::kTiming, Noise::kSampled, description, model);
    add(name + "_min", kEfficiency, "ms", Better::kLower, decimals, Statistic::kMean, Noise::kSampled,
        "the fastest repetition of " + name);
    add(name + "_max", kEfficiency, "ms", Better::kLower, decimals, Statistic::kMean, Noise::kSampled,
        "the slowest repetition of " + name);
  }
};

std::vector<MetricInfo> build_registry() {
  Builder b;
  const auto A = Statistic::kAccuracy, T = Statistic::kTiming, M = Statistic::kMean;
  const auto sampled = Noise::kSampled, exact = Noise::kExact, fixed = Noise::kFixed;
  const auto higher = Better::kHigher, lower = Better::kLower, none = Better::kNone;

  // Accuracy (evals/accuracy.cc).
  b.add("acc_overall", kAccuracy, "%", higher, 1, A, sampled, "exact-match accuracy over every test question");
  b.add("acc_mean", kAccuracy, "%", higher, 1, A, sampled,
        "the mean of the families' accuracies (each family weighs the same)");
  b.add("acc_{family}", kAccuracy, "%", higher, 1, A, sampled, "exact-match accuracy on one question family");
  b.add("visual_tokens", kAccuracy, "tokens", none, 0, M, fixed,
        "visual tokens per image that reach the LM (after compression)");
  b.add("stage0_time", kAccuracy, "s", lower, 1, M, sampled, "stage 0 (pretraining) wall time; 0 when cached");
  b.add("stage1_time", kAccuracy, "s", lower, 1, M, sampled, "stage 1 (compressor + projector) wall time");
  b.add("stage2_time", kAccuracy, "s", lower, 1, M, sampled, "stage 2 (everything trains) wall time");
  b.add("eval_time", kAccuracy, "s", lower, 1, M, sampled, "wall time of answering the test questions");
  b.add("stage0_final_loss", kAccuracy, "nats", lower, 3, M, sampled, "stage 0's last training loss");
  b.add("stage1_final_loss", kAccuracy, "nats", lower, 3, M, sampled, "stage 1's last training loss");
  b.add("stage2_final_loss", kAccuracy, "nats", lower, 3, M, sampled, "stage 2's last training loss");

  // Efficiency: sizes and the FLOP model (evals/efficiency.cc, evals/flops.h).
  b.add("visual_tokens", kEfficiency, "tokens", none, 0, M, fixed,
        "visual tokens per image that reach the LM (after compression)");
  b.add("lm_tokens", kEfficiency, "tokens", none, 0, M, fixed, "tokens the LM prefills per request (visual + text)");
  b.add("params", kEfficiency, "M", none, 2, M, fixed, "parameters of the model with the compressor");
  b.add("params_compressor", kEfficiency, "M", none, 2, M, fixed, "parameters of the compressor");
  b.add("flops_encoder_pre", kEfficiency, "GFLOP", lower, 2, M, fixed,
        "FLOP model: patch embedding and the encoder blocks before the compressor");
  b.add("flops_compressor", kEfficiency, "GFLOP", lower, 2, M, fixed, "FLOP model: the compressor");
  b.add("flops_encoder_post", kEfficiency, "GFLOP", lower, 2, M, fixed,
        "FLOP model: the encoder blocks after the compressor");
  b.add("flops_encoder", kEfficiency, "GFLOP", lower, 2, M, fixed, "FLOP model: the whole encoder per request");
  b.add("flops_projector", kEfficiency, "GFLOP", lower, 2, M, fixed, "FLOP model: the projector");
  b.add("flops_lm_prefill", kEfficiency, "GFLOP", lower, 2, M, fixed, "FLOP model: the LM's prefill and its head");
  b.add("flops_prefill", kEfficiency, "GFLOP", lower, 2, M, fixed,
        "FLOP model: a request from the images to the first token");
  b.add("kv_cache_{n}", kEfficiency, "MiB", lower, 1, M, fixed,
        "decode model: the KV cache of one request at its last step of n generated tokens (float32)");
  b.add("flops_decode_{n}", kEfficiency, "GFLOP", lower, 2, M, fixed,
        "decode model: FLOPs of the n - 1 decode steps after the prompt");
  b.add("bytes_decode_step_{n}", kEfficiency, "MB", lower, 1, M, fixed,
        "decode model: bytes read per decode step (weights once, the KV cache), averaged over n - 1 steps");

  // Efficiency: timings, each with its repetitions and its model metric.
  b.timing("encoder_latency", "the encoder on one request's images", "flops_encoder");
  b.timing("projector_latency", "the projector on one request's visual tokens");
  b.timing("lm_prefill_latency", "the LM's prefill of one request and its first token's logits");
  b.timing("prefill_latency", "one request from the images to the first token (TTFT)", "flops_prefill");
  b.timing("throughput_batch_latency", "one prefill of a batch of requests", "flops_prefill");
  b.add("throughput", kEfficiency, "requests/s", higher, 2, T, sampled,
        "requests per second of a batched prefill, per repetition");
  b.add("encoder_gflops", kEfficiency, "GFLOP/s", higher, 1, M, sampled, "the encoder's FLOP rate at its median");
  b.add("lm_prefill_gflops", kEfficiency, "GFLOP/s", higher, 1, M, sampled, "the LM prefill's FLOP rate");
  b.add("prefill_gflops", kEfficiency, "GFLOP/s", higher, 1, M, sampled, "the prefill's FLOP rate");
  b.add("throughput_gflops", kEfficiency, "GFLOP/s", higher, 1, M, sampled, "the batched prefill's FLOP rate");

  // Training: one family per regime (evals/flops.h train_regimes()).
  for (const auto& regime : train_regimes()) {
    const std::string s = train_regime_suffix(regime.value), label = train_regime_label(regime.value);
    b.add("flops_train_step" + s, kEfficiency, "GFLOP", lower, 2, M, fixed,
          "FLOP model: one training step of the batch, " + label);
    b.timing("train_step_time" + s, "one training step (forward, backward, AdamW), " + label, "flops_train_step" + s);
    b.timing("train_fwd_bwd_time" + s, "the forward and backward of a training step, " + label,
             "flops_train_step" + s);
    b.timing("optimizer_step_time" + s, "the AdamW step of a training step, " + label);
    b.add("train_gflops" + s, kEfficiency, "GFLOP/s", higher, 1, M, sampled, "the training step's FLOP rate, " + label);
    b.add("params_trainable" + s, kEfficiency, "M", none, 2, M, fixed, "parameters that train, " + label);
  }

  // Memory (evals/efficiency.cc record_memory_peak), measured without noise.
  for (const std::string what : {"inference", "train"}) {
    const std::string step = what == "inference" ? "a batched prefill" : "a training step";
    b.add(what + "_peak_tensor", kEfficiency, "MiB", lower, 0, M, exact,
          "resident tensors plus the activation peak of " + step);
    b.add(what + "_activation_peak", kEfficiency, "MiB", lower, 0, M, exact, "the activation peak of " + step);
    b.add(what + "_rss_increase", kEfficiency, "MiB", lower, 0, M, sampled,
          "the rise of the process's peak resident memory over " + step);
  }

  // Generation (the decode stage; evals/decode.h).
  for (const std::string suffix : {"", "_batch"}) {
    const std::string at = suffix.empty() ? "one request" : "a batch of requests";
    b.timing("decode_latency_{n}" + suffix, "from the images to generated token n of " + at, "", 0);
    b.timing("decode_tpot_{n}" + suffix,
             "time per generated token of " + at + ": (latency to token n - to the first) / (n - 1)",
             "bytes_decode_step_{n}", 2);
    b.timing("decode_ttft" + suffix, "time to the first generated token of " + at);
  }
  b.add("decode_throughput_{n}", kEfficiency, "tokens/s", higher, 1, T, sampled,
        "generated tokens per second of the batch, prefill included, per repetition");
  b.add("weights", kEfficiency, "MiB", lower, 0, M, fixed, "the model's weights");
  b.add("kv_cache_measured", kEfficiency, "MiB", lower, 1, M, exact, "the KV cache of one request, as allocated");
  b.add("decode_activation_peak", kEfficiency, "MiB", lower, 0, M, exact,
        "the activation peak of one request's generation");
  b.add("decode_peak_tensor_batch", kEfficiency, "MiB", lower, 0, M, exact,
        "the tensor peak of a batch's generation, measured");
  b.add("decode_peak_tensor_batch_model", kEfficiency, "MiB", lower, 0, M, fixed,
        "the same, from the memory model");
  b.add("decode_memory_model_error", kEfficiency, "ratio", none, 3, M, exact,
        "measured / modelled batch peak - 1: how far the memory model is off");
  b.add("max_batch_{n}", kEfficiency, "requests", higher, 0, M, fixed,
        "the largest batch whose generation of n tokens fits the memory budget");

  // The machine's peak, and each stage's share of it.
  b.add("device_peak_gflops", kEfficiency, "GFLOP/s", none, 1, M, sampled,
        "the machine's measured matrix-product FLOP rate");
  for (const std::string stage : {"encoder", "prefill", "train"})
    b.add(stage + "_efficiency", kEfficiency, "ratio", higher, 3, M, sampled,
          stage + "_gflops / device_peak_gflops");

  // Benchmark runs (evals/benchmark.cc): a released model on a benchmark file,
  // every question stored (the report's intervals and paired differences come
  // from those rows; these are the run's own summaries).
  b.add("score", kBenchmark, "%", higher, 1, M, sampled,
        "the task's per-question score (correct, VQA accuracy, ANLS) averaged over the questions, x100");
  b.add("task_{metric}", kBenchmark, "lmms-eval", none, 3, M, sampled,
        "an aggregate as lmms-eval's results JSON reports it, on its scale (MME: a sum to 2000 or 800; others 0..1 "
        "or 0..100 as that task reports)");
  b.add("questions", kBenchmark, "questions", none, 0, M, fixed, "questions answered (after --limit)");
  b.add("visual_tokens", kBenchmark, "tokens", none, 1, M, fixed,
        "visual tokens per question that reach the LM (after compression), averaged over the questions");
  b.add("prompt_tokens", kBenchmark, "tokens", none, 1, M, fixed,
        "prompt tokens per question, visual tokens included, averaged over the questions");
  b.add("output_tokens", kBenchmark, "tokens", none, 1, M, sampled, "generated tokens per question, averaged");
  for (const std::string q : {"50", "90", "99"}) {
    b.add("ttft_p" + q, kBenchmark, "ms", lower, 0, M, sampled,
          "time to the first token (image processing excluded), percentile " + q + " over the run's questions");
    b.add("tpot_p" + q, kBenchmark, "ms", lower, 1, M, sampled,
          "time per output token after the first, percentile " + q + " over the questions that generated two or more");
  }
  b.add("eval_time", kBenchmark, "s", lower, 1, M, sampled, "wall time of answering the questions this attempt answered");

  // Fine-tunes (evals/finetune.cc): LLaVA-OneVision's recipe on a conversation
  // file; the loss curve is the run's series "loss" (every optimizer step).
  b.add("final_loss", kFinetune, "nats", lower, 4, M, sampled,
        "the mean training loss of the last 10 optimizer steps (or all, when fewer): LLaVA's loss, the mean over "
        "each conversation's supervised tokens, averaged over the step's conversations");
  b.add("first_loss", kFinetune, "nats", lower, 4, M, sampled, "the training loss of the first optimizer step");
  b.add("steps", kFinetune, "steps", none, 0, M, exact, "optimizer steps taken");
  b.add("conversations_trained", kFinetune, "conversations", none, 0, M, exact,
        "conversations (micro-batches of one) the steps went through, repeats over epochs counted");
  b.add("supervised_tokens", kFinetune, "tokens", none, 0, M, exact,
        "labels the loss covered (not -100), summed over the conversations trained");
  b.add("positions", kFinetune, "tokens", none, 0, M, exact,
        "positions through the LM (visual tokens included), summed over the conversations trained");
  b.add("truncated", kFinetune, "conversations", none, 0, M, exact,
        "conversations trained (repeats counted) cut at max_length, after the image's expansion");
  b.add("unsupervised", kFinetune, "conversations", none, 0, M, exact,
        "conversations trained (repeats counted) the cut left without a supervised label (they add no loss)");
  b.add("trainable_params", kFinetune, "params", none, 0, M, exact, "parameters the stage trains");
  b.add("step_time_p50", kFinetune, "s", lower, 2, M, sampled,
        "the median wall time of one optimizer step (its conversations' forward and backward, clipping, update)");
  b.add("tokens_per_s", kFinetune, "tokens/s", higher, 1, M, sampled,
        "positions through the LM per second of training (steps only: no checkpoint writing)");
  b.add("train_time", kFinetune, "s", lower, 1, M, sampled,
        "wall time of the steps this attempt took (a resumed run: after the resume)");
  b.add("peak_rss", kFinetune, "GiB", lower, 2, M, sampled, "the process's peak resident memory (VmHWM) while it trained: the model resident, activations, gradients, "
        "optimizer state (the load before and the save after are not in it)");

  // The default views, by rank (MetricInfo::headline, run_table, query).
  struct Shown {
    const char* eval;
    const char* name;
    int headline, run_table, query;
    bool longest_only;
  };
  const Shown shown[] = {
      {kAccuracy, "acc_{family}", 0, 1, 1, false},  // one column per SynthVQA family
      {kAccuracy, "acc_overall", 2, 6, 6, false},
      {kAccuracy, "acc_mean", 1, 7, 7, false},
      {kAccuracy, "visual_tokens", 3, 8, 8, false},
      {kAccuracy, "stage1_time", 0, 9, 0, false},
      {kAccuracy, "stage2_time", 0, 10, 0, false},
      // `laco query` lists every evaluation's columns in one order: these after the others'.
      {kBenchmark, "score", 1, 1, 14, false},
      {kBenchmark, "visual_tokens", 2, 2, 0, false},
      {kBenchmark, "ttft_p50", 3, 3, 15, false},
      {kBenchmark, "ttft_p90", 0, 4, 0, false},
      {kBenchmark, "tpot_p50", 0, 5, 0, false},
      {kBenchmark, "questions", 0, 6, 16, false},
      {kFinetune, "final_loss", 1, 1, 17, false},
      {kFinetune, "steps", 0, 2, 0, false},
      {kFinetune, "step_time_p50", 2, 3, 18, false},
      {kFinetune, "peak_rss", 3, 4, 0, false},
      {kEfficiency, "visual_tokens", 0, 1, 0, false},
      {kEfficiency, "encoder_latency", 4, 2, 9, false},
      {kEfficiency, "prefill_latency", 2, 3, 10, false},
      {kEfficiency, "throughput", 3, 4, 11, false},
      {kEfficiency, "train_step_time", 1, 5, 12, false},
      {kEfficiency, "inference_peak_tensor", 0, 6, 0, false},
      {kEfficiency, "train_peak_tensor", 0, 7, 13, false},
      {kEfficiency, "flops_train_step", 0, 8, 0, false},
      {kEfficiency, "decode_tpot_{n}", 0, 9, 0, true},
      {kEfficiency, "decode_latency_{n}", 0, 10, 0, false},
      {kEfficiency, "max_batch_{n}", 0, 11, 0, true},
  };
  for (const auto& v : shown) {
    auto it = std::find_if(b.out.begin(), b.out.end(), [&](const MetricInfo& m) { return m.eval == v.eval && m.name == v.name; });
    if (it == b.out.end()) fail("metric registry: the view entry {} of {} names no metric", v.name, v.eval);
    it->headline = v.headline;
    it->run_table = v.run_table;
    it->query = v.query;
    it->longest_only = v.longest_only;
  }
  return b.out;
}

}  // namespace

bool MetricInfo::matches(const std::string& metric) const {
  const auto [p, at] = placeholder(name);
  if (p.empty()) return metric == name;
  const std::string head = name.substr(0, at), tail = name.substr(at + p.size());
  if (metric.size() <= head.size() + tail.size() || metric.compare(0, head.size(), head) != 0 ||
      metric.compare(metric.size() - tail.size(), tail.size(), tail) != 0)
    return false;
  return fills(p, metric.substr(head.size(), metric.size() - head.size() - tail.size()));
}

std::string MetricInfo::with(const std::string& value) const {
  const auto [p, at] = placeholder(name);
  if (p.empty()) return name;
  return name.substr(0, at) + value + name.substr(at + p.size());
}

std::string MetricInfo::model_of(const std::string& metric) const {
  if (model.empty()) return "";
  const auto [p, at] = placeholder(name);
  if (p.empty()) return model;
  const std::string tail = name.substr(at + p.size());
  const std::string value = metric.substr(at, metric.size() - at - tail.size());
  const auto [mp, mat] = placeholder(model);
  return mp.empty() ? model : model.substr(0, mat) + value + model.substr(mat + mp.size());
}

const std::vector<MetricInfo>& metric_registry() {
  static const std::vector<MetricInfo> registry = build_registry();
  return registry;
}

const MetricInfo* lookup_metric(const std::string& metric, const std::string& eval) {
  for (const auto& m : metric_registry())
    if (m.name == metric && (eval.empty() || m.eval == eval)) return &m;
  for (const auto& m : metric_registry())
    if (m.matches(metric) && (eval.empty() || m.eval == eval)) return &m;
  return nullptr;
}

const MetricInfo& metric_info(const std::string& metric, const std::string& eval) {
  if (const MetricInfo* m = lookup_metric(metric, eval)) return *m;
  fail("metric '{}'{} has no entry in the metric registry (allowed: the names `laco metrics` lists; a new metric is one "
       "entry in evals/metrics.cc)",
       metric, eval.empty() ? std::string() : " of " + eval);
}

PrintTable metric_registry_table() {
  PrintTable t;
  t.title = "Metrics (evals/metrics.cc): what each stored metric is, and how the report pools and tests it";
  t.columns = {{"metric"}, {"eval"}, {"unit"}, {"better"}, {"statistic"}, {"noise"}, {"model"}, {"what"}};
  for (const auto& m : metric_registry()) {
    const char* better = m.better == Better::kHigher ? "higher" : m.better == Better::kLower ? "lower" : "-";
    const char* statistic = m.statistic == Statistic::kAccuracy ? "accuracy"
                            : m.statistic == Statistic::kTiming ? "timing"
                                                                : "mean";
    const char* noise = m.noise == Noise::kSampled ? "sampled" : m.noise == Noise::kExact ? "exact" : "fixed";
    t.add({m.name, m.eval, m.unit, std::string(better), std::string(statistic), std::string(noise),
           m.model.empty() ? std::string("-") : m.model, m.description});
  }
  t.notes = {"statistic: accuracy = mean over seeds from the stored predictions, paired bootstrap over questions; "
             "timing = median of the stored repetitions, order-statistic interval, a test on the repetitions; mean = "
             "mean over seeds ± std, not tested. noise: sampled (bold only beyond the noise), exact (measured "
             "without noise: bold is the best printed value), fixed (by the configuration: no spread). model: the "
             "analytic metric that predicts the timing's ratios. {n}: generated tokens; {family}: a question family"};
  return t;
}

std::vector<std::string> view_metrics(MetricView view, const std::string& eval, const std::vector<int64_t>& gen_tokens) {
  std::vector<std::pair<int, const MetricInfo*>> ranked;
  for (const auto& m : metric_registry()) {
    const int rank = view == MetricView::kHeadline ? m.headline : view == MetricView::kRunTable ? m.run_table : m.query;
    if (rank == 0) continue;
    if (!eval.empty() && m.eval != eval) continue;
    ranked.emplace_back(rank, &m);
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [rank, m] : ranked) {
    const auto [p, at] = placeholder(m->name);
    if (p == "{family}") {
      for (const auto& f : vqa_families()) out.push_back(m->with(f));
    } else if (p == "{n}") {
      if (gen_tokens.empty()) continue;
      if (m->longest_only) out.push_back(m->with(std::to_string(gen_tokens.back())));
      else
        for (int64_t n : gen_tokens) out.push_back(m->with(std::to_string(n)));
    } else if (std::find(out.begin(), out.end(), m->name) == out.end()) {  // a name two evaluations share
      out.push_back(m->name);
    }
  }
  return out;
}

}  // namespace laco
