#include "report/tables.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "evals/flops.h"
#include "evals/metrics.h"
#include "evals/run_spec.h"
#include "evals/synthvqa.h"
#include "harness/base/error.h"
#include "harness/model/placement.h"
#include "methods/registry.h"
#include "report/benchmark_table.h"
#include "report/finetune_table.h"
#include "report/plots.h"

namespace laco {
namespace {

const char* kAccuracy = "accuracy";
const char* kEfficiency = "efficiency";

// The uncompressed reference (none): answers for every placement and ratio, never ranked.
bool is_none(const std::string& method) { return is_reference_method(method); }

// A method inside the LM (fastv) leaves the encoder's tokens complete: its
// runs are after the encoder, and they answer for it at every encoder placement.
bool in_lm(const std::string& method) {
  const MethodInfo* info = lookup_method(method.substr(0, method.find_first_of("{[")));
  return info && info->site == MethodSite::kInLm;
}

const char* kInLmNote =
    "fastv acts inside the LM (after its layer K): the encoder's tokens reach the LM complete, so its row at every "
    "placement is its run after the encoder, at the same token budget";

/// "at 1/4 depth", or "after the encoder" for the external placement.
std::string where(const RunIndex& index, const std::string& placement) {
  return placement == index.external() ? "after the encoder" : "at " + placement + " depth";
}

std::string ratio_label(int64_t r) { return fmt::format("{}x ({}x{})", r * r, r, r); }

std::string preset_note(const RunIndex& index, const std::string& what) {
  std::vector<std::string> parts;
  if (!index.accuracy_preset().empty()) parts.push_back(fmt::format("accuracy on SynthVQA `{}`", index.accuracy_preset()));
  if (!index.efficiency_preset().empty()) parts.push_back(fmt::format("efficiency on `{}`", index.efficiency_preset()));
  return fmt::format("Presets: {}; {}", parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", ")), what);
}

// The efficiency and training tables' first note.
std::string against_external_note(const RunIndex& index, int64_t ratio, const std::string& ext) {
  return preset_note(
      index, fmt::format("r = {}; each internal placement against the same method and ratio at {} (after the encoder)",
                         ratio, ext));
}

std::string commits_note(const RunIndex& index) {
  const auto c = index.commits();
  return fmt::format("Accuracy: mean over seeds [95% bootstrap interval over seeds and questions]; timings: median "
                     "[order-statistic interval]; ratios of timings (speed-ups, gains): of the rounds both were "
                     "measured in (Hodges-Lehmann estimate of the per-round ratio, exact signed-rank interval), or, "
                     "for runs measured apart, of their repetitions (two-sample Hodges-Lehmann, exact Mann-Whitney "
                     "interval); every interval is 95% unless marked †; ± = sample std over seeds (runs without raw "
                     "data); - = no finished run; {}; git commit(s): {}",
                     index.sizes(), c.empty() ? "unknown" : fmt::format("{}", fmt::join(c, ", ")));
}

// (num / den + offset) in percent: where both have repetitions, the ratio
// estimated on the rounds they share (else on all their repetitions) with
// its exact interval (Evidence::ratio_to); else the ratio of the values.
Stat ratio_of(const Stat& num, const Stat& den, double offset) {
  if (num.missing() || den.missing() || den.mean == 0) return {};
  if (num.evidence && den.evidence && !num.evidence->samples.empty() && !den.evidence->samples.empty()) {
    const RatioEstimate r = num.evidence->ratio_to(*den.evidence);
    Stat s = Stat::of({(r.ratio + offset) * 100.0});
    s.rounds = r.paired ? r.n : 0;
    s.p = r.p;
    if (r.interval.coverage > 0)
      s.ci = Interval{(r.interval.lo + offset) * 100.0, (r.interval.hi + offset) * 100.0, r.interval.coverage};
    return s;
  }
  return Stat::of({(num.mean / den.mean + offset) * 100.0});
}

// The CSV's identity of a row: method and options apart, blocks of both encoders.
RowKey row_key(const RunIndex& index, const std::string& method, const std::string& placement, int64_t ratio) {
  RowKey k;
  const auto open = method.find('[');
  k.method = method.substr(0, open);
  if (open != std::string::npos) k.options = method.substr(open + 1, method.size() - open - 2);
  if (is_none(method)) return k;
  k.placement = placement;
  k.block_accuracy = index.block(kAccuracy, placement);
  k.block_efficiency = index.block(kEfficiency, placement);
  k.ratio = ratio;
  return k;
}

// The analytic model's metric that predicts a timing's ratios (evals/metrics.h).
std::string model_of(const std::string& metric) { return metric_info(metric, kEfficiency).model_of(metric); }


}  // namespace

std::string most_sensitive_family(const RunIndex& index, int64_t ratio) {
  std::string best;
  double best_score = -1e300;
  for (const auto& family : vqa_families()) {
    const std::string metric = "acc_" + family;
    const Stat ceiling = index.stat(kAccuracy, reference_method().name, "", 0, metric);
    std::vector<double> scores;
    for (const auto& m : index.methods()) {
      if (is_none(m)) continue;
      for (const auto& p : index.placements()) {
        const Stat s = index.stat(kAccuracy, m, p, ratio, metric);
        if (!s.missing()) scores.push_back(ceiling.missing() ? -s.mean : ceiling.mean - s.mean);
      }
    }
    if (scores.empty()) continue;
    double mean = 0;
    for (double v : scores) mean += v;
    mean /= static_cast<double>(scores.size());
    if (mean > best_score) best_score = mean, best = family;
  }
  return best.empty() ? vqa_families().back() : best;
}

Table methods_table(const RunIndex& index, const ReportOptions& options) {
  ReportOptions o = options;
  o.placement = index.canonical(options.placement);  // 0.25 and block:K name the same runs as 1/4
  Table t;
  t.name = "methods";
  t.title = fmt::format("Compression methods {}, r = {} ({}x fewer visual tokens)", where(index, o.placement), o.ratio,
                        o.ratio * o.ratio);
  t.columns.push_back(Column::label("method"));
  for (const auto& f : vqa_families()) t.columns.push_back(Column::of(f, "acc_" + f, kAccuracy));
  t.columns.push_back(Column::of("average", "acc_mean", kAccuracy));
  t.columns.push_back(Column::label("seeds"));
  t.columns.push_back(Column::of("visual tokens", "visual_tokens", kAccuracy, "per image"));
  t.columns.push_back(Column::of("throughput", "throughput", kEfficiency));
  bool any_in_lm = false;
  for (const auto& m : index.methods()) {
    any_in_lm = any_in_lm || in_lm(m);
    const std::string placement = is_none(m) ? "" : in_lm(m) ? index.external() : o.placement;
    std::vector<Cell> row{Cell::text(m)};
    for (const auto& f : vqa_families()) row.push_back(Cell::value(index.stat(kAccuracy, m, placement, o.ratio, "acc_" + f)));
    const Stat avg = index.stat(kAccuracy, m, placement, o.ratio, "acc_mean");
    row.push_back(Cell::value(avg));
    row.push_back(Cell::text(avg.missing() ? "-" : std::to_string(avg.n)));
    row.push_back(Cell::value(index.stat(kAccuracy, m, placement, o.ratio, "visual_tokens")));
    row.push_back(Cell::value(index.stat(kEfficiency, m, placement, o.ratio, "throughput")));
    t.add_row(std::move(row), is_none(m), row_key(index, m, o.placement, o.ratio));
  }
  t.rules = {1};
  t.notes = {preset_note(index, fmt::format("placement {} (block k = {} of the accuracy encoder), r = {}", o.placement,
                                            index.block(kAccuracy, o.placement), o.ratio)),
             "`none` is the uncompressed ceiling (not ranked)",
             commits_note(index)};
  if (any_in_lm) t.notes.insert(t.notes.end() - 1, kInLmNote);
  t.mark_best();
  return t;
}

Table placement_table(const RunIndex& index, const ReportOptions& o) {
  const std::string sensitive = most_sensitive_family(index, o.ratio);
  Table t;
  t.name = "placement";
  t.title = fmt::format("Layer placement, r = {}", o.ratio);
  t.columns = {Column::label("method"),
               Column::label("placement"),
               Column::label("k (acc / eff)"),
               Column::of("average accuracy", "acc_mean", kAccuracy),
               Column::of(sensitive + " accuracy", "acc_" + sensitive, kAccuracy),
               Column::of("train step", "train_step_time", kEfficiency),
               Column::of("throughput", "throughput", kEfficiency)};
  auto row_for = [&](const std::string& m, const std::string& p) {
    auto k = [&](const char* eval) {
      const int64_t b = index.block(eval, p);
      return b > 0 ? std::to_string(b) : std::string("-");  // no run of that eval at this placement
    };
    const auto blocks = is_none(m) ? std::string("-") : k(kAccuracy) + " / " + k(kEfficiency);
    return std::vector<Cell>{Cell::text(m),
                             Cell::text(is_none(m) ? "-" : p),
                             Cell::text(blocks),
                             Cell::value(index.stat(kAccuracy, m, p, o.ratio, "acc_mean")),
                             Cell::value(index.stat(kAccuracy, m, p, o.ratio, "acc_" + sensitive)),
                             Cell::value(index.stat(kEfficiency, m, p, o.ratio, "train_step_time")),
                             Cell::value(index.stat(kEfficiency, m, p, o.ratio, "throughput"))};
  };
  for (const auto& m : index.methods()) {
    if (is_none(m)) {
      t.add_row(row_for(m, ""), true, row_key(index, m, "", o.ratio));
      continue;
    }
    t.rules.push_back(t.rows.size());
    for (const auto& p : index.placements())
      if (!in_lm(m) || p == index.external()) t.add_row(row_for(m, p), false, row_key(index, m, p, o.ratio));
  }
  t.notes = {preset_note(index, fmt::format("r = {}; placement = depth fraction, k = the block it resolves to", o.ratio)),
             fmt::format("{} is the family whose accuracy drops most from the `none` ceiling across these runs",
                         sensitive),
             commits_note(index)};
  t.mark_best();
  return t;
}

Table ratio_table(const RunIndex& index, const ReportOptions& options) {
  ReportOptions o = options;
  o.placement = index.canonical(options.placement);  // 0.25 and block:K name the same runs as 1/4
  Table t;
  t.name = "ratio";
  t.title = fmt::format("Compression ratio {}", where(index, o.placement));
  t.columns.push_back(Column::label("method"));
  t.columns.push_back(Column::label("fewer tokens"));
  t.columns.push_back(Column::of("visual tokens", "visual_tokens", kAccuracy, "per image"));
  for (const auto& f : vqa_families()) t.columns.push_back(Column::of(f, "acc_" + f, kAccuracy));
  t.columns.push_back(Column::of("average", "acc_mean", kAccuracy));
  t.columns.push_back(Column::of("throughput", "throughput", kEfficiency));
  bool any_in_lm = false;
  for (const auto& m : index.methods()) {
    const bool none = is_none(m);
    any_in_lm = any_in_lm || in_lm(m);
    if (!none) t.rules.push_back(t.rows.size());
    for (int64_t r : none ? std::vector<int64_t>{0} : index.ratios()) {
      const std::string p = none ? "" : in_lm(m) ? index.external() : o.placement;
      std::vector<Cell> row{Cell::text(m), Cell::text(none ? "1x" : ratio_label(r)),
                            Cell::value(index.stat(kAccuracy, m, p, r, "visual_tokens"))};
      for (const auto& f : vqa_families()) row.push_back(Cell::value(index.stat(kAccuracy, m, p, r, "acc_" + f)));
      row.push_back(Cell::value(index.stat(kAccuracy, m, p, r, "acc_mean")));
      row.push_back(Cell::value(index.stat(kEfficiency, m, p, r, "throughput")));
      t.add_row(std::move(row), none, row_key(index, m, p, r));
    }
  }
  t.notes = {preset_note(index, fmt::format("placement {}; r x r merges: 4x, 9x, 16x fewer tokens", o.placement)),
             commits_note(index)};
  if (any_in_lm) t.notes.insert(t.notes.end() - 1, kInLmNote);
  t.mark_best();
  return t;
}

Table efficiency_table(const RunIndex& index, const ReportOptions& o) {
  Table t;
  t.name = "efficiency";
  t.title = fmt::format("Efficiency of compressing inside the encoder against after it, r = {}", o.ratio);
  t.columns = {Column::label("method"),
               Column::label("placement"),
               Column::of("train step, all trainable", "train_step_time", kEfficiency),
               Column::change("speed-up", "train_step_speedup", kEfficiency),
               Column::change("FLOP model", "train_step_flop_speedup", kEfficiency),
               Column::of("throughput", "throughput", kEfficiency),
               Column::change("gain", "throughput_gain", kEfficiency),
               Column::of("prefill", "prefill_latency", kEfficiency),
               Column::change("speed-up", "prefill_speedup", kEfficiency),
               Column::change("FLOP model", "prefill_flop_speedup", kEfficiency),
               Column::of("train peak memory", "train_peak_tensor", kEfficiency),
               Column::change("change", "train_peak_tensor_change", kEfficiency)};
  const std::string ext = index.external();
  // The placements some method has an efficiency run at (a failed run of one
  // method still shows as dashes beside the others).
  std::set<std::string> measured;
  for (const auto& m : index.methods()) {
    if (is_none(m)) continue;  // its one run answers for every placement
    for (const auto& p : index.placements())
      if (!index.stat(kEfficiency, m, p, o.ratio, "train_step_time").missing() ||
          !index.stat(kEfficiency, m, p, o.ratio, "throughput").missing())
        measured.insert(p);
  }
  for (const auto& m : index.methods()) {
    if (is_none(m)) continue;
    t.rules.push_back(t.rows.size());
    auto s = [&](const std::string& p, const std::string& metric) {
      return index.stat(kEfficiency, m, p, o.ratio, metric);
    };
    for (const auto& p : index.placements()) {
      if (!measured.count(p)) continue;  // a placement with accuracy runs only: nothing to show
      const bool is_ext = p == ext;
      if (in_lm(m) && !is_ext) continue;  // no placement in the encoder
      // Speed-ups are external time / internal time - 1; memory is internal / external - 1.
      auto speedup = [&](const std::string& metric) {
        return is_ext ? Stat{} : ratio_of(s(ext, metric), s(p, metric), -1);
      };
      auto gain = [&](const std::string& metric) { return is_ext ? Stat{} : ratio_of(s(p, metric), s(ext, metric), -1); };
      t.add_row({Cell::text(m), Cell::text(is_ext ? p + " (external)" : p), Cell::value(s(p, "train_step_time")),
                 Cell::change(speedup("train_step_time")), Cell::change(speedup(model_of("train_step_time"))),
                 Cell::value(s(p, "throughput")), Cell::change(gain("throughput")),
                 Cell::value(s(p, "prefill_latency")), Cell::change(speedup("prefill_latency")),
                 Cell::change(speedup(model_of("prefill_latency"))), Cell::value(s(p, "train_peak_tensor")),
                 Cell::change(gain("train_peak_tensor"))},
                false, row_key(index, m, p, o.ratio));
    }
  }
  t.notes = {against_external_note(index, o.ratio, ext),
             "throughput = requests per second, a request being one image with its crops (every crop goes through the "
             "encoder) and its text; speed-up = external time / internal time - 1; gain = internal / external "
             "throughput - 1; change = "
             "internal / external peak memory - 1 (tensor allocator peak of one training step); FLOP model = the same "
             "speed-up predicted from analytic FLOPs",
             commits_note(index)};
  t.mark_best();
  return t;
}

Table training_table(const RunIndex& index, const ReportOptions& o) {
  Table t;
  t.name = "training";
  t.title = fmt::format("Training step per stage, inside the encoder against after it, r = {}", o.ratio);
  t.columns = {Column::label("method"), Column::label("placement")};
  for (const auto& regime : train_regimes()) {
    const std::string suffix = train_regime_suffix(regime.value);
    const std::string stage = train_regime_label(regime.value);
    t.columns.push_back(Column::of("train step, " + stage, "train_step_time" + suffix, kEfficiency));
    t.columns.push_back(Column::change("speed-up", "train_step_speedup" + suffix, kEfficiency));
    t.columns.push_back(Column::change("FLOP model", "train_step_flop_speedup" + suffix, kEfficiency));
  }
  const std::string ext = index.external();
  for (const auto& m : index.methods()) {
    if (is_none(m)) continue;
    auto s = [&](const std::string& p, const std::string& metric) { return index.stat(kEfficiency, m, p, o.ratio, metric); };
    bool ruled = false;
    for (const auto& p : index.placements()) {
      bool frozen = false;
      for (const auto& regime : train_regimes())
        if (regime.value != TrainRegime::kFull)
          frozen = frozen || !s(p, "train_step_time" + train_regime_suffix(regime.value)).missing();
      if (!frozen) continue;  // no stage beyond the fully trainable one measured here (the efficiency table has that)
      if (!ruled) t.rules.push_back(t.rows.size()), ruled = true;
      const bool is_ext = p == ext;
      std::vector<Cell> row = {Cell::text(m), Cell::text(is_ext ? p + " (external)" : p)};
      for (const auto& regime : train_regimes()) {
        const std::string suffix = train_regime_suffix(regime.value);
        auto speedup = [&](const std::string& metric) { return is_ext ? Stat{} : ratio_of(s(ext, metric), s(p, metric), -1); };
        row.push_back(Cell::value(s(p, "train_step_time" + suffix)));
        row.push_back(Cell::change(speedup("train_step_time" + suffix)));
        row.push_back(Cell::change(speedup(model_of("train_step_time" + suffix))));
      }
      t.add_row(std::move(row), false, row_key(index, m, p, o.ratio));
    }
  }
  t.notes = {against_external_note(index, o.ratio, ext),
             "stages (LLaVA-style training): all trainable; encoder frozen = its blocks frozen, the compressor, "
             "projector and LM train; encoder + LM frozen = the compressor and projector train. Frozen blocks before "
             "the first trainable module run no backward; frozen blocks after it run their forward and the input "
             "half of the backward (the FLOP model's rule). speed-up = external time / internal time - 1; FLOP "
             "model = the same speed-up predicted from analytic FLOPs",
             commits_note(index)};
  t.mark_best();
  return t;
}

Table generation_table(const RunIndex& index, const ReportOptions&) {
  Table t;
  t.name = "generation";
  t.title = "Generation: decode cost with the visual tokens in the KV cache";
  const auto& gen = index.gen_tokens();
  if (gen.empty()) return t;
  const int64_t longest = gen.back();
  const std::string batch = fmt::format("b={}", fmt::join(index.decode_batches(), ","));
  const std::string ext = index.external();
  // `none` answers for every placement and ratio (RunIndex::stat).
  auto s = [&](const std::string& m, const std::string& p, int64_t r, const std::string& metric) {
    return index.stat(kEfficiency, m, p, r, metric);
  };
  const std::string tpot = fmt::format("decode_tpot_{}", longest), tpot_b = tpot + "_batch";
  const std::string kv = fmt::format("kv_cache_{}", longest);
  t.columns = {Column::label("method"),
               Column::label("placement"),
               Column::label("r"),
               Column::of("visual tokens", "visual_tokens", kEfficiency),
               Column::of(fmt::format("KV cache, n={}", longest), kv, kEfficiency),
               Column::of("time per token, b=1", tpot, kEfficiency),
               Column::change("vs none", tpot + "_vs_none", kEfficiency),
               Column::change("byte model", tpot + "_byte_model_vs_none", kEfficiency),
               Column::of("time per token, " + batch, tpot_b, kEfficiency),
               Column::change("vs none", tpot_b + "_vs_none", kEfficiency)};
  for (int64_t n : gen) {
    const std::string latency = fmt::format("decode_latency_{}", n);
    t.columns.push_back(Column::of(fmt::format("latency, n={}", n), latency, kEfficiency));
    t.columns.push_back(Column::change("vs external", latency + "_speedup", kEfficiency));
  }
  t.columns.push_back(Column::of(fmt::format("throughput, {}, n={}", batch, longest),
                                 fmt::format("decode_throughput_{}", longest), kEfficiency));
  t.columns.push_back(Column::of(fmt::format("max batch, n={}", longest), fmt::format("max_batch_{}", longest), kEfficiency));

  auto row_of = [&](const std::string& m, const std::string& p, int64_t r) {
    const bool none = is_none(m), is_ext = p == ext;
    // Speed-ups: the other's time / this one's - 1 (no compression's, or the same method's after the encoder).
    const std::string& ref = reference_method().name;
    auto vs_none = [&](const std::string& metric) { return none ? Stat{} : ratio_of(s(ref, "", 0, metric), s(m, p, r, metric), -1); };
    auto vs_ext = [&](const std::string& metric) {
      return none || is_ext ? Stat{} : ratio_of(s(m, ext, r, metric), s(m, p, r, metric), -1);
    };
    std::vector<Cell> row = {Cell::text(m),
                             Cell::text(none ? "-" : is_ext ? p + " (external)" : p),
                             Cell::text(none ? "-" : std::to_string(r)),
                             Cell::value(s(m, p, r, "visual_tokens")),
                             Cell::value(s(m, p, r, kv)),
                             Cell::value(s(m, p, r, tpot)),
                             Cell::change(vs_none(tpot)),
                             Cell::change(vs_none(model_of(tpot))),
                             Cell::value(s(m, p, r, tpot_b)),
                             Cell::change(vs_none(tpot_b))};
    for (int64_t n : gen) {
      const std::string latency = fmt::format("decode_latency_{}", n);
      row.push_back(Cell::value(s(m, p, r, latency)));
      row.push_back(Cell::change(vs_ext(latency)));
    }
    row.push_back(Cell::value(s(m, p, r, fmt::format("decode_throughput_{}", longest))));
    row.push_back(Cell::value(s(m, p, r, fmt::format("max_batch_{}", longest))));
    t.add_row(std::move(row), none, row_key(index, m, p, r));
  };
  // Every compressed configuration with a decode run (stats are cached: asking twice costs nothing).
  auto for_each_measured = [&](const std::function<void(const std::string&, const std::string&, int64_t, bool)>& f) {
    for (int64_t r : index.ratios())
      for (const auto& m : index.methods()) {
        if (is_none(m)) continue;
        bool first = true;  // of its method and ratio
        for (const auto& p : index.placements())
          if (!s(m, p, r, tpot).missing()) f(m, p, r, first), first = false;
      }
  };
  bool any = false;
  for_each_measured([&](const std::string&, const std::string&, int64_t, bool) { any = true; });
  if (!any) return t;  // the reference alone compares nothing
  if (!s(reference_method().name, "", 0, tpot).missing()) row_of(reference_method().name, "", 0);
  for_each_measured([&](const std::string& m, const std::string& p, int64_t r, bool first) {
    if (first) t.rules.push_back(t.rows.size());
    row_of(m, p, r);
  });
  t.notes = {
      preset_note(index, fmt::format("greedy decoding of exactly n tokens per request (no end-of-sequence stop), the "
                                     "prompt's KV cache allocated once for its last step; {} = the decode batch",
                                     batch)),
      fmt::format("time per token = (latency to token n - time to the first token) / (n - 1), n = {}; latency = from "
                  "the images to token n of one request (prefill included); throughput = generated tokens per second "
                  "of the batch, prefill included; every n is read from one generation of {} tokens",
                  longest, longest),
      "vs none = no compression's time / this one's - 1; byte model = the same from the decode model's bytes read per "
      "step (weights once per step, the KV cache per request; evals/decode.h); vs external = the same method after "
      "the encoder's latency / this one's - 1. Inside the encoder or after it at one ratio, the LM caches the same "
      "tokens: the time per token is the same work, and an internal placement's gain is the prefill's, spread over "
      "the n tokens",
      "KV cache = keys and values of every LM layer per request at its last step (float32); max batch = the largest "
      "batch whose weights + batch x (inputs + KV cache + activation peak per request, measured at batch 1) fit "
      "the run's memory budget (memory_budget_gib), checked against a measured batch (decode_memory_model_error)",
      commits_note(index)};
  t.mark_best();
  return t;
}

Table budget_table(const RunIndex& index, const ReportOptions& options) {
  ReportOptions o = options;
  o.placement = index.canonical(options.placement);  // the methods table's runs at x1
  const TrainingBudgets& budgets = index.budgets();
  Table t;
  t.name = "budget";
  t.title = fmt::format("Ranking vs training budget {}, r = {}", where(index, o.placement), o.ratio);
  t.columns.push_back(Column::label("method"));
  std::set<std::string> present;
  for (int64_t b : budgets.present) {
    // The mean accuracy at budget b, and its rank (a count: no spread, not ranked itself).
    Column average = Column::of(fmt::format("x{} ({} steps)", b, budgets.steps(b)), "acc_mean", kAccuracy);
    average.metric = fmt::format("acc_mean_x{}", b);
    t.columns.push_back(average);
    t.columns.push_back({fmt::format("x{} rank", b), "", 0, Better::kNone, false, false, fmt::format("rank_x{}", b), kAccuracy});
    for (const auto& m : index.at_budget(b).methods()) present.insert(m);
  }
  const std::vector<std::string> methods = in_registry_order(present);

  // The average per budget and method, and the rank: 1 + the methods significantly better at that budget.
  std::map<int64_t, std::map<std::string, Stat>> average;
  for (int64_t b : budgets.present)
    for (const auto& m : methods)
      average[b][m] = index.at_budget(b).stat(kAccuracy, m, is_none(m) ? "" : o.placement, o.ratio, "acc_mean");
  const double scale = std::pow(10.0, t.columns[1].decimals);  // compared as printed, as bold is
  bool untested = false;
  auto rank = [&](int64_t b, const std::string& m) -> Stat {
    const Stat& s = average[b][m];
    if (is_none(m) || s.missing()) return {};
    int better = 0;
    for (const auto& other : methods) {
      const Stat& x = average[b][other];
      if (other == m || is_none(other) || x.missing() || std::round(x.mean * scale) <= std::round(s.mean * scale))
        continue;
      if (x.evidence && s.evidence) {
        better += x.evidence->differs(*s.evidence);
      } else {
        ++better;  // no raw data: the printed order, untested
        untested = true;
      }
    }
    Stat r = Stat::of({static_cast<double>(1 + better)});
    r.n = s.n;  // the CSV's n: the seeds behind it
    return r;
  };
  for (const auto& m : methods) {
    std::vector<Cell> row{Cell::text(m)};
    for (int64_t b : budgets.present) {
      row.push_back(Cell::value(average[b][m]));
      row.push_back(Cell::value(rank(b, m)));
    }
    t.add_row(std::move(row), is_none(m), row_key(index, m, o.placement, o.ratio));
  }

  // What stands behind each budget's values: runs, seeds, questions per family.
  std::vector<std::string> sizes;
  std::set<std::string> commits;
  for (int64_t b : budgets.present) {
    int runs = 0;
    std::set<int> seeds;
    std::set<size_t> questions;
    for (const auto& m : methods) {
      const Stat& s = average[b][m];
      if (s.missing()) continue;
      runs += s.n;
      seeds.insert(s.n);
      if (s.evidence)
        for (const auto& [seed, strata] : s.evidence->answers)
          for (const auto& [family, answers] : strata) questions.insert(answers.size());
    }
    auto range = [](const auto& v) {
      if (v.empty()) return std::string("-");
      return *v.begin() == *v.rbegin() ? fmt::format("{}", *v.begin()) : fmt::format("{} to {}", *v.begin(), *v.rbegin());
    };
    sizes.push_back(fmt::format("x{}: {} run{}, seeds per value {}, test questions per family {}", b, runs,
                                runs == 1 ? "" : "s", range(seeds),
                                questions.empty() ? std::string("- (no stored predictions)") : range(questions)));
    for (const auto& c : index.at_budget(b).commits()) commits.insert(c);
  }
  t.notes = {fmt::format("Preset: accuracy on SynthVQA `{}`; placement {} (block k = {} of the accuracy encoder), r = {}",
                         index.accuracy_preset(), o.placement, index.block(kAccuracy, o.placement), o.ratio),
             fmt::format("Budget xk: k times the stage 1 + 2 steps of x1 (steps1 + steps2 shown), stage 0 the same; x1 "
                         "({} steps) is what most accuracy runs were trained with and the only budget the other "
                         "tables use",
                         budgets.steps(1)),
             "Rank: 1 + the number of methods significantly better at that budget (paired bootstrap of the "
             "difference on the same questions, 5% level, as bold); methods that no other one beats significantly "
             "share a rank; `none` is the uncompressed ceiling (not ranked)",
             fmt::format("Accuracy: mean over seeds [95% bootstrap interval over seeds and questions]; ± = sample std "
                         "over seeds (runs without raw data); - = no finished run; n: {}; git commit(s): {}",
                         fmt::join(sizes, "; "),
                         commits.empty() ? std::string("unknown") : fmt::format("{}", fmt::join(commits, ", ")))};
  if (untested)
    t.notes.push_back("Ranks without raw data (runs stored before schema version 2): by the printed value only, not "
                      "tested against the noise");
  t.mark_best();
  return t;
}


const std::vector<TableInfo>& table_registry() {
  // The SynthVQA tables: in every report but one of benchmark runs or fine-tunes alone (where they would be empty).
  const auto synthvqa = [](const RunIndex& index) { return index.reports_synthvqa(); };
  static const std::vector<TableInfo> tables = {
      // Released checkpoints on real benchmarks first, then their fine-tunes, then the SynthVQA proxy's tables.
      {"benchmark", {}, [](const RunIndex& index) { return !index.benchmark_runs().empty(); }, false,
       [](const RunIndex& index, const ReportOptions&) { return benchmark_tables(index.benchmark_runs()); }},
      {"finetune", {}, [](const RunIndex& index) { return !index.finetune_runs().empty(); }, false,
       [](const RunIndex& index, const ReportOptions&) { return finetune_tables(index.finetune_runs()); }},
      {"methods", methods_table, synthvqa, false, {}},
      {"placement", placement_table, synthvqa, false, {}},
      {"ratio", ratio_table, synthvqa, false, {}},
      {"efficiency", efficiency_table, synthvqa, false, {}},
      {"training", training_table, synthvqa, true, {}},
      {"generation", generation_table, synthvqa, true, {}},
      {"budget", budget_table, [](const RunIndex& index) { return index.budgets().present.size() > 1; }, false, {}},
  };
  return tables;
}

std::vector<std::string> table_names() {
  std::vector<std::string> names;
  for (const auto& t : table_registry()) names.push_back(t.name);
  return names;
}

const std::string& table_selector(const Table& table) { return table.family.empty() ? table.name : table.family; }

std::vector<Table> build_tables(const RunIndex& index, const ReportOptions& options) {
  std::vector<Table> tables;
  for (const auto& info : table_registry()) {
    if (info.when && !info.when(index)) continue;
    if (info.build_all) {
      for (auto& t : info.build_all(index, options)) {
        t.family = info.name;
        if (!info.needs_rows || !t.rows.empty()) tables.push_back(std::move(t));
      }
      continue;
    }
    Table t = info.build(index, options);
    if (info.needs_rows && t.rows.empty()) continue;
    tables.push_back(std::move(t));
  }
  return tables;
}

}  // namespace laco
