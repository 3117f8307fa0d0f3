#include "report/compare.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "evals/metrics.h"
#include "evals/registry.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "harness/print/number.h"
#include "harness/score/task.h"
#include "report/benchmark_stats.h"
#include "results/filter.h"
#include "results/measurements.h"
#include "results/schema.h"

namespace laco {
namespace {

std::string label_of(const StoredMeasurement& m) {
  std::optional<bool> dirty;
  if (auto* d = std::get_if<int64_t>(&m.column("git_dirty"))) dirty = *d != 0;
  return commit_label(sql::to_text(m.column("git_commit")), dirty);
}

// Newer first: finished, then started, the current measurement before an archived one of the same time.
bool newer(const StoredMeasurement& a, const StoredMeasurement& b) {
  const auto ka = std::make_tuple(a.when(), a.seq == 0, a.seq), kb = std::make_tuple(b.when(), b.seq == 0, b.seq);
  return ka > kb;
}

struct Run {
  std::string key;
  RunSpec spec;
  std::vector<StoredMeasurement> measurements;  // the current one first
};

// The commit label a --base/--new prefix names: an exact label, else the one
// label that starts with it. An Error naming the commits present otherwise.
std::string resolve_commit(const std::string& prefix, const std::string& flag, const std::map<std::string, size_t>& present,
                           const std::string& db) {
  if (present.count(prefix)) return prefix;
  std::vector<std::string> matches, all;
  for (const auto& [label, n] : present) {
    all.push_back(fmt::format("{} ({} measurement{})", label, n, n == 1 ? "" : "s"));
    if (label.rfind(prefix, 0) == 0) matches.push_back(label);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty())
    fail("{} {}: no measurement in {} at a commit starting with '{}' (allowed: {})", flag, prefix, db, prefix,
         all.empty() ? std::string("none") : join(all));
  fail("{} {}: ambiguous in {}: {} (allowed: a longer prefix, or the whole label)", flag, prefix, db, join(matches));
}

// The value of a metric in one measurement, from its raw data where there are some.
// The registry says which statistic a metric takes (evals/metrics.h), as in the report's tables.
// A benchmark run's score and its task's headline are recomputed from its
// responses, with an interval and a paired test (report/benchmark_stats.h).
bool from_responses(const RunRecord& r, const std::string& metric) {
  if (!r.spec.is_benchmark()) return false;
  if (metric != "score" && metric != benchmark_headline_metric(find_task(r.spec.benchmark().task))) return false;
  return reproduces(r, metric);
}

// A fine-tune's step_time_p50 is the median of its per-step times (samples
// "step_time"). Two measurements of one fine-tune train the same
// conversations at each step when their steps took the same positions and
// supervised tokens (the order is a function of the seed and the epoch, and
// the run key holds the data file's digest and every setting): their steps
// then pair, as the rounds of an interleaved group do.
const char* kFinetuneStepTime = "step_time_p50";

bool same_steps(const RunRecord& a, const RunRecord& b) {
  auto steps = [](const RunRecord& r) {
    auto s = r.samples.find("step_time");
    return s == r.samples.end() ? size_t{0} : s->second.size();
  };
  return a.spec.is_finetune() && b.spec.is_finetune() && steps(a) > 0 && steps(a) == steps(b) &&
         a.value("positions") && a.value("positions") == b.value("positions") && a.value("supervised_tokens") &&
         a.value("supervised_tokens") == b.value("supervised_tokens");
}

Stat value_of(const RunRecord& r, const std::string& metric, bool pair_steps = false) {
  if (r.spec.is_finetune() && metric == kFinetuneStepTime) {
    auto s = r.samples.find("step_time");
    if (s != r.samples.end() && !s->second.empty()) {
      std::map<std::string, std::vector<double>> steps;
      if (pair_steps) steps["steps"] = s->second;
      return timing_stat(s->second, std::move(steps));
    }
  }
  if (from_responses(r, metric)) {
    auto evidence = std::make_shared<BenchmarkEvidence>();
    evidence->task = r.spec.benchmark().task;
    evidence->metric = metric;
    evidence->seeds[r.spec.seed] = r.responses;
    return benchmark_stat(evidence);
  }
  const MetricInfo* info = lookup_metric(metric, r.eval());
  const Statistic statistic = info ? info->statistic : Statistic::kMean;
  if (statistic == Statistic::kAccuracy && !r.predictions.empty())
    if (auto evidence = accuracy_evidence({{r.spec.seed, r.predictions}}, metric)) return accuracy_stat(evidence);
  auto s = r.samples.find(metric);
  if (statistic == Statistic::kTiming && s != r.samples.end() && !s->second.empty()) return timing_stat(s->second);
  return Stat::of({r.require(metric)});
}

std::string unit_of(const RunRecord& r, const std::string& metric) {
  for (const auto& m : r.metrics)
    if (m.name == metric) return m.unit;
  return "";
}

std::set<std::string> metric_names(const RunRecord& r) {
  std::set<std::string> out;
  for (const auto& m : r.metrics) out.insert(m.name);
  return out;
}

ComparedMetric compare_metric(const Run& run, const RunRecord& base, const RunRecord& new_, const std::string& metric,
                              const std::string& base_commit, const std::string& new_commit) {
  ComparedMetric c;
  c.key = run.key;
  c.spec = run.spec;
  c.metric = metric;
  c.unit = unit_of(new_, metric);
  c.base_commit = base_commit;
  c.new_commit = new_commit;
  const bool pair_steps = same_steps(base, new_);
  c.base = value_of(base, metric, pair_steps);
  c.new_ = value_of(new_, metric, pair_steps);
  if (c.base.mean != 0) c.ratio = c.new_.mean / c.base.mean;
  if (c.base.evidence && c.new_.evidence) {
    const auto& a = c.new_.evidence->samples;
    const auto& b = c.base.evidence->samples;
    // Two measurements at different times share no round: the ratio is unpaired; a fine-tune's steps pair (above).
    if (!a.empty() && !b.empty()) {
      const RatioEstimate r = pair_steps ? c.new_.evidence->ratio_to(*c.base.evidence) : unpaired_ratio(a, b);
      c.ratio = r.ratio;
      if (r.interval.coverage > 0) c.ratio_ci = r.interval;
    }
    c.difference = c.new_.evidence->test(*c.base.evidence);
  }
  return c;
}

std::string value_text(const Stat& s, const std::string& unit) {
  std::string out = format_number(s.mean, unit);
  if (s.ci && s.ci->coverage > 0)
    out += fmt::format(" [{}, {}]", format_number(s.ci->lo, unit), format_number(s.ci->hi, unit));
  return out;
}

std::string test_text(const ComparedMetric& c) {
  switch (c.difference.test) {
    case Difference::Test::kMannWhitney:
      return fmt::format("Mann-Whitney U, p = {}", format_number(c.difference.p));
    case Difference::Test::kSignedRank:
      if (c.spec.is_finetune())
        return fmt::format("signed-rank on {} steps paired by step, p = {}", c.difference.n, format_number(c.difference.p));
      return fmt::format("signed-rank on {} rounds, p = {}", c.difference.n, format_number(c.difference.p));
    case Difference::Test::kPairedBootstrap:
      return fmt::format("paired bootstrap, new - base = {} [{}, {}] points", format_number(c.new_.mean - c.base.mean, c.unit),
                         format_number(c.difference.interval.lo, c.unit), format_number(c.difference.interval.hi, c.unit));
    case Difference::Test::kNone:
      break;
  }
  // A benchmark run has its responses, but only its score and headline are tested (report/benchmark_stats.h).
  if (c.spec.is_benchmark()) return "not tested (benchmark runs: score and headline only)";
  // One training run per measurement: a loss or a peak has no repetitions to tell noise from a change.
  if (c.spec.is_finetune()) return "not tested (fine-tunes: one training run per measurement)";
  return "not tested (no raw data)";
}

std::string test_name(const Difference::Test t) {
  switch (t) {
    case Difference::Test::kMannWhitney:
      return "mann-whitney-u";
    case Difference::Test::kSignedRank:
      return "wilcoxon-signed-rank";
    case Difference::Test::kPairedBootstrap:
      return "paired-bootstrap";
    case Difference::Test::kNone:
      break;
  }
  return "none";
}

std::string significant_text(const Difference& d) {
  if (d.test == Difference::Test::kNone) return "not tested";
  return d.significant ? "yes" : "no";
}

PrintValue number_or_missing(const std::optional<double>& v) { return v ? PrintValue(*v) : PrintValue(); }

}  // namespace

bool data_format(const std::string& format) { return format == "csv" || format == "json"; }

Comparison compare_measurements(const CompareOptions& o, std::vector<std::string>* warnings) {
  sql::Connection db = open_results_db(o.db, false);
  const RunFilter filter = run_filter(db, o.db, o.where, warnings);
  const bool archive = has_measurement_archive(db);

  std::vector<Run> runs;
  {
    auto q = db.prepare("SELECT key, eval, config FROM runs r WHERE status = 'done' AND " + filter.condition +
                        " ORDER BY key");
    for (size_t i = 0; i < filter.params.size(); ++i) q.bind(static_cast<int>(i + 1), filter.params[i]);
    while (q.step()) {
      Run run;
      run.key = q.text(0);
      const std::string where = fmt::format("{}: run {}", o.db, run.key);
      nlohmann::json config;
      const std::string problem = parse_json(q.text(2), config);
      if (!problem.empty()) fail("{}: config is not JSON ({})", where, problem);
      run.spec = run_spec_from_json(q.text(1), config, where);
      runs.push_back(std::move(run));
    }
  }
  std::map<std::string, size_t> present;  // commit label -> measurements
  size_t archived = 0;
  for (auto& run : runs) {
    run.measurements.push_back(current_measurement(db, run.key));
    for (auto& m : archived_measurements(db, run.key)) run.measurements.push_back(std::move(m));
    archived += run.measurements.size() - 1;
    for (const auto& m : run.measurements) ++present[label_of(m)];
  }
  const std::string new_label = o.new_.empty() ? "" : resolve_commit(o.new_, "--new", present, o.db);
  const std::string base_label = o.base.empty() ? "" : resolve_commit(o.base, "--base", present, o.db);

  // Per run: the two measurements, as records.
  struct Pair {
    const Run* run;
    RunRecord base, new_;
    std::string base_label, new_label;
  };
  std::vector<Pair> pairs;
  for (const auto& run : runs) {
    std::vector<const StoredMeasurement*> by_age;
    for (const auto& m : run.measurements) by_age.push_back(&m);
    std::stable_sort(by_age.begin(), by_age.end(), [](auto* a, auto* b) { return newer(*a, *b); });
    const StoredMeasurement* n = nullptr;
    for (const auto* m : by_age)
      if (new_label.empty() ? m->seq == 0 : label_of(*m) == new_label) {
        n = m;
        break;
      }
    if (!n) continue;
    const StoredMeasurement* b = nullptr;
    for (const auto* m : by_age) {
      if (m == n) continue;
      if (base_label.empty() ? label_of(*m) != label_of(*n) : label_of(*m) == base_label) {
        b = m;
        break;
      }
    }
    if (!b) continue;
    auto name = [&](const StoredMeasurement* m) {
      return m->seq == 0 ? fmt::format("{}: run {}, current measurement", o.db, run.key)
                         : fmt::format("{}: run {}, archived measurement {}", o.db, run.key, m->seq);
    };
    pairs.push_back({&run, measurement_record(*b, run.spec, name(b)), measurement_record(*n, run.spec, name(n)),
                     label_of(*b), label_of(*n)});
  }

  if (pairs.empty()) {
    std::vector<std::string> commits;
    for (const auto& [label, n] : present) commits.push_back(fmt::format("{} ({})", label, n));
    const std::string which =
        o.base.empty() && o.new_.empty()
            ? std::string("two measurements at different commits")
            : fmt::format("a measurement at {} and one at {}", base_label.empty() ? "another commit" : base_label,
                          new_label.empty() ? "the current one" : new_label);
    fail("{}: no run{} has {} to compare ({} done run{}{}, {} archived measurement{}; measurements per commit: {}){} "
         "(allowed: measure the sweep again at another commit with `laco sweep SPEC --remeasure --db {}`, or merge "
         "databases of the same sweep measured at two commits with `laco merge`)",
         o.db, o.where.empty() ? "" : " passing --where", which, runs.size(), runs.size() == 1 ? "" : "s",
         o.where.empty() ? "" : " pass --where", archived, archived == 1 ? "" : "s",
         commits.empty() ? std::string("none") : join(commits),
         archive ? "" : fmt::format("; schema version {} has no archive of earlier measurements yet (a writer of this "
                                    "build migrates it)",
                                    inspect_results_db(o.db)),
         o.db);
  }

  // Metrics: as asked, checked against what the pairs hold.
  const bool all = o.metrics.size() == 1 && o.metrics[0] == "all";
  if (!all && !o.metrics.empty()) {
    std::set<std::string> shared;
    for (const auto& p : pairs)
      for (const auto& m : metric_names(p.new_))
        if (metric_names(p.base).count(m)) shared.insert(m);
    for (const auto& m : o.metrics)
      if (!shared.count(m))
        fail("--metrics: no compared run has metric '{}' in both measurements in {} (allowed: all, {})", m, o.db,
             join(std::vector<std::string>(shared.begin(), shared.end())));
  }

  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    const RunSpec &x = a.run->spec, &y = b.run->spec;
    return std::make_tuple(x.eval(), x.preset, x.method_label(), x.block_k, x.ratio, x.seed, a.run->key) <
           std::make_tuple(y.eval(), y.preset, y.method_label(), y.block_k, y.ratio, y.seed, b.run->key);
  });
  Comparison out;
  out.db = o.db;
  double min_coverage = 1;
  size_t significant = 0, tested = 0;
  bool benchmark = false, finetune = false;
  std::set<std::string> bases, news;
  for (const auto& p : pairs) {
    const auto in_base = metric_names(p.base), in_new = metric_names(p.new_);
    std::vector<std::string> metrics;
    if (all) {
      for (const auto& m : in_new)
        if (in_base.count(m)) metrics.push_back(m);
    } else {
      std::vector<std::string> wanted = o.metrics;
      if (wanted.empty()) {
        wanted = view_metrics(MetricView::kHeadline, p.run->spec.eval());
        // A benchmark run's task headline (MME's perception sum, POPE's F1) first, then its score.
        if (p.run->spec.is_benchmark()) {
          const std::string headline = benchmark_headline_metric(find_task(p.run->spec.benchmark().task));
          if (std::find(wanted.begin(), wanted.end(), headline) == wanted.end()) wanted.insert(wanted.begin(), headline);
        }
      }
      for (const auto& m : wanted)
        if (in_base.count(m) && in_new.count(m)) metrics.push_back(m);
    }
    for (const auto& m : metrics) {
      out.rows.push_back(compare_metric(*p.run, p.base, p.new_, m, p.base_label, p.new_label));
      const auto& c = out.rows.back();
      for (const Stat* s : {&c.base, &c.new_})
        if (s->ci && s->ci->coverage > 0) min_coverage = std::min(min_coverage, s->ci->coverage);
      if (c.ratio_ci) min_coverage = std::min(min_coverage, c.ratio_ci->coverage);
      tested += c.difference.test != Difference::Test::kNone;
      significant += c.difference.significant;
    }
    bases.insert(p.base_label);
    news.insert(p.new_label);
    benchmark = benchmark || p.run->spec.is_benchmark();
    finetune = finetune || p.run->spec.is_finetune();
  }

  const std::vector<std::string> b(bases.begin(), bases.end()), n(news.begin(), news.end());
  out.notes.push_back(fmt::format(
      "{} of {} done run{} compared; base: {} ({}); new: {} ({})", pairs.size(), runs.size(), runs.size() == 1 ? "" : "s",
      base_label.empty() ? "the newest other measurement at another commit than new's" : "the newest at " + base_label,
      join(b), new_label.empty() ? "the current measurement" : "the newest at " + new_label, join(n)));
  out.notes.push_back(
      "Values: timings are the median of the repetitions [order-statistic interval], accuracies are recomputed "
      "from the stored test predictions [95% bootstrap interval over questions]; new/base of timings is the "
      "two-sample Hodges-Lehmann ratio of the repetitions [exact Mann-Whitney interval] (two measurements share no "
      "round: unpaired), of other values the ratio of the values; intervals are 95% unless a note says otherwise");
  out.notes.push_back(
      "Significant at the 5% level: timings by a two-sided Mann-Whitney U test on the repetitions; accuracies by a "
      "paired bootstrap on the questions both measurements answered (the 95% interval of new - base excludes 0); "
      "values without raw data in both measurements (counts, FLOPs, runs stored before schema version 2) are not "
      "tested");
  if (benchmark)
    out.notes.push_back(fmt::format(
        "Benchmark runs: `score` (mean per-question score, %) and the task's headline (`task_NAME`, lmms-eval's "
        "aggregate on its scale) are recomputed from the stored responses [95% bootstrap interval, {} resamples of "
        "the questions, or of the images with all their questions for MME, within each category]; new - base by a "
        "paired bootstrap on the questions both measurements answered, the same resampled questions for both "
        "(significant when its 95% interval excludes 0); their other metrics are not tested",
        kBootstrapResamples));
  if (finetune)
    out.notes.push_back(
        "Fine-tunes: step_time_p50 is recomputed from the stored per-step times, the median [order-statistic "
        "interval]; where both measurements' steps took the same positions and supervised tokens (the same seed, "
        "data file and settings train the same conversations at each step), new/base is paired by step "
        "(Hodges-Lehmann of the per-step ratios, exact signed-rank interval and test), else unpaired (Mann-Whitney); "
        "the two measurements were made at different times, so a difference includes the machine's drift between "
        "them. final_loss (the mean training loss of the last 10 steps), peak_rss and the counts are one value per "
        "measurement: one training run has no repetitions to tell noise from a change, so they are not tested");
  if (min_coverage < 0.95)
    out.notes.push_back(fmt::format("Intervals of timings with few repetitions are the widest the repetitions allow, "
                                    "and cover with less than 95% (as little as {:g}% here; the coverage columns give "
                                    "each): the median of 3 repetitions, [min, max], 75%; a ratio of 3 against 3, 90%",
                                    std::floor(1000 * min_coverage) / 10));
  out.notes.push_back(fmt::format("{} of {} compared value{} differ significantly; {} not tested", significant,
                                  out.rows.size(), out.rows.size() == 1 ? "" : "s", out.rows.size() - tested));
  return out;
}

PrintTable comparison_table(const Comparison& c, bool data) {
  PrintTable t;
  t.title = fmt::format("laco compare: {}", c.db);
  t.notes = c.notes;
  t.columns = {{"key"}, {"eval"}, {"preset"}, {"method"}, {"layer"}, {"block_k"}, {"ratio"}, {"seed"}, {"metric"},
               {"unit"}};
  if (data) {
    for (const char* name : {"base_commit", "base", "base_lo", "base_hi", "base_coverage", "new_commit", "new", "new_lo",
                             "new_hi", "new_coverage", "new/base", "new/base_lo", "new/base_hi", "new/base_coverage", "test", "p",
                             "difference_lo", "difference_hi", "significant"})
      t.columns.push_back({name});
  } else {
    t.columns.push_back({"base commit", "", Align::kLeft});
    t.columns.push_back({"base", "", Align::kRight});
    t.columns.push_back({"new commit", "", Align::kLeft});
    t.columns.push_back({"new", "", Align::kRight});
    t.columns.push_back({"new/base", "", Align::kRight});
    t.columns.push_back({"test", "", Align::kLeft});
    t.columns.push_back({"significant", "", Align::kLeft});
  }
  for (const auto& r : c.rows) {
    std::vector<PrintValue> row = {r.key,           r.spec.eval(), r.spec.preset,          r.spec.method_label(),
                                   r.spec.layer,    r.spec.block_k, r.spec.ratio,          static_cast<int64_t>(r.spec.seed),
                                   r.metric,        r.unit};
    auto lo = [](const Stat& s) { return s.ci && s.ci->coverage > 0 ? PrintValue(s.ci->lo) : PrintValue(); };
    auto hi = [](const Stat& s) { return s.ci && s.ci->coverage > 0 ? PrintValue(s.ci->hi) : PrintValue(); };
    auto coverage = [](const Stat& s) { return s.ci && s.ci->coverage > 0 ? PrintValue(s.ci->coverage) : PrintValue(); };
    if (data) {
      const bool mwu = r.difference.test == Difference::Test::kMannWhitney ||
                       r.difference.test == Difference::Test::kSignedRank;
      const bool paired = r.difference.test == Difference::Test::kPairedBootstrap;
      for (PrintValue v :
           {PrintValue(r.base_commit), PrintValue(r.base.mean), lo(r.base), hi(r.base), coverage(r.base),
            PrintValue(r.new_commit), PrintValue(r.new_.mean), lo(r.new_), hi(r.new_), coverage(r.new_),
            number_or_missing(r.ratio), r.ratio_ci ? PrintValue(r.ratio_ci->lo) : PrintValue(),
            r.ratio_ci ? PrintValue(r.ratio_ci->hi) : PrintValue(),
            r.ratio_ci ? PrintValue(r.ratio_ci->coverage) : PrintValue(), PrintValue(test_name(r.difference.test)),
            mwu ? PrintValue(r.difference.p) : PrintValue(), paired ? PrintValue(r.difference.interval.lo) : PrintValue(),
            paired ? PrintValue(r.difference.interval.hi) : PrintValue(), PrintValue(significant_text(r.difference))})
        row.push_back(v);
    } else {
      std::string ratio = r.ratio ? format_number(*r.ratio) : std::string("-");
      if (r.ratio && r.ratio_ci)
        ratio += fmt::format(" [{}, {}]{}", format_number(r.ratio_ci->lo), format_number(r.ratio_ci->hi),
                             r.ratio_ci->coverage < kFullCoverage ? "†" : "");
      for (const std::string& v : {r.base_commit, value_text(r.base, r.unit), r.new_commit, value_text(r.new_, r.unit),
                                   ratio, test_text(r), significant_text(r.difference)})
        row.push_back(v);
    }
    t.add(std::move(row));
  }
  return t;
}

}  // namespace laco
