#include "report/benchmark_table.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "evals/benchmark.h"
#include "harness/base/error.h"
#include "harness/model/placement.h"
#include "harness/score/task.h"
#include "methods/registry.h"
#include "report/benchmark_stats.h"
#include "report/run_index.h"

namespace laco {
namespace {

const char* kBenchmark = "benchmark";
const char* kImported = "lmms-eval";

std::string short_sha(const std::string& sha, size_t n) { return sha.empty() ? "unknown" : sha.substr(0, n); }

std::string base_name(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  return name.empty() ? path : name;
}

template <typename T>
std::string range_text(const std::set<T>& v) {
  if (v.empty()) return "-";
  return *v.begin() == *v.rbegin() ? fmt::format("{}", *v.begin()) : fmt::format("{} to {}", *v.begin(), *v.rbegin());
}

// What runs of one origin in one table share: the configuration less a row's
// own fields (method and its options, placement, ratio), the seed, and the
// paths of the benchmark file and the checkpoint (their digests stay).
nlohmann::json shared_configuration(const RunSpec& spec) {
  nlohmann::json c = to_json(spec);
  for (const char* k : {"seed", "layer", "block_k", "ratio", "method", "method_options", "init", "projector",
                        "grid_out", "benchmark_data", "checkpoint_dir"})
    c.erase(k);
  return c;
}

// One row: a method at a placement and ratio (`none`: one row whatever its
// placement and ratio), of one origin, its seeds pooled.
struct Row {
  std::string method;  // method_label()
  bool none = false, imported = false;
  int64_t block = 0, ratio = 0;
  std::vector<std::string> layers;             // the spellings of its placement, in the order seen
  std::map<uint64_t, const RunRecord*> seeds;  // the first run of each seed
  std::vector<std::string> keys;               // every run's key
};

// The placement as the row shows it: a standard spelling if one was used ("1/4"), else the first.
std::string placement_label(const Row& row) {
  for (const auto& l : row.layers)
    if (std::find(standard_placements().begin(), standard_placements().end(), l) != standard_placements().end())
      return l;
  return Placement::parse(row.layers.front(), "placement").label();
}

// The CSV's identity of a row (report/render.h).
RowKey row_key(const Row& row) {
  RowKey k;
  const auto open = row.method.find_first_of("{[");
  k.method = row.method.substr(0, open);
  if (open != std::string::npos) k.options = row.method.substr(open + 1, row.method.size() - open - 2);
  if (row.imported) k.options += (k.options.empty() ? "" : ",") + std::string("origin=") + kImported;
  if (row.none) return k;
  k.placement = placement_label(row);
  k.block_benchmark = row.block;
  k.ratio = row.ratio;
  return k;
}

// Every seed's responses (null when a seed has none stored).
std::shared_ptr<BenchmarkEvidence> responses_of(const Row& row, const std::string& task, const std::string& metric) {
  auto e = std::make_shared<BenchmarkEvidence>();
  e->task = task;
  e->metric = metric;
  for (const auto& [seed, run] : row.seeds) {
    if (run->responses.empty()) return nullptr;
    e->seeds[seed] = run->responses;
  }
  return e;
}

// Per seed: the value from the responses, else the stored metric, else nothing.
Stat per_seed(const Row& row, const std::function<std::optional<double>(const RunRecord&)>& value) {
  std::vector<double> values;
  for (const auto& [seed, run] : row.seeds)
    if (const auto v = value(*run)) values.push_back(*v);
  return Stat::of(values);
}

std::optional<double> mean_visual_tokens(const RunRecord& run) {
  double sum = 0;
  size_t n = 0;
  for (const auto& r : run.responses)
    if (r.visual_tokens) sum += static_cast<double>(*r.visual_tokens), ++n;
  if (n > 0) return sum / static_cast<double>(n);
  return run.responses.empty() ? run.value("visual_tokens") : std::nullopt;
}

std::optional<double> ttft_percentile(const RunRecord& run, int q) {
  std::vector<double> ttft;
  for (const auto& r : run.responses)
    if (r.ttft_ms) ttft.push_back(*r.ttft_ms);
  if (!ttft.empty()) return percentile(ttft, q);
  return run.responses.empty() ? run.value(fmt::format("ttft_p{}", q)) : std::nullopt;
}

std::optional<double> question_count(const RunRecord& run) {
  if (!run.responses.empty()) return static_cast<double>(run.responses.size());
  return run.value("questions");
}

}  // namespace

bool BenchmarkTableKey::operator<(const BenchmarkTableKey& o) const {
  return std::tie(task, data_sha256, checkpoint_sha256, limit) < std::tie(o.task, o.data_sha256, o.checkpoint_sha256, o.limit);
}

bool BenchmarkTableKey::operator==(const BenchmarkTableKey& o) const {
  return std::tie(task, data_sha256, checkpoint_sha256, limit) == std::tie(o.task, o.data_sha256, o.checkpoint_sha256, o.limit);
}

BenchmarkTableKey benchmark_table_key(const RunSpec& spec) {
  const BenchmarkSettings& b = spec.benchmark();
  return {b.task, b.data_sha256, spec.checkpoint_sha256, b.limit};
}

Table benchmark_table(const std::vector<RunRecord>& runs) {
  if (runs.empty()) fail("benchmark table: no runs");
  const BenchmarkTableKey key = benchmark_table_key(runs.front().spec);
  for (const auto& r : runs)
    if (!(benchmark_table_key(r.spec) == key))
      fail("benchmark table: run {} is of another task, benchmark file, checkpoint or limit than run {}", r.spec.label(),
           runs.front().spec.label());
  const TaskType& task = find_task(key.task, "report");
  const std::string metric = benchmark_headline_metric(task);
  const BenchmarkSettings& first = runs.front().spec.benchmark();

  // Runs of one origin share everything but their row's fields and the seed.
  std::map<bool, std::map<std::string, nlohmann::json>> configurations;  // imported -> text -> configuration
  for (const auto& r : runs) {
    const nlohmann::json c = shared_configuration(r.spec);
    configurations[r.spec.benchmark().imported()][c.dump()] = c;
  }
  for (const auto& [imported, configs] : configurations) {
    if (configs.size() < 2) continue;
    std::string field;
    const std::string diff = configuration_differences(configs, &field);
    fail("report: the {}benchmark runs of task {} on {} (SHA-256 {}), checkpoint SHA-256 {}, limit {} differ in more "
         "than the method, placement, ratio and seed: {}; they are not put in one table (allowed: one configuration "
         "per table; choose one with --where {}=VALUE, or report them separately)",
         imported ? "imported " : "", key.task, first.data, short_sha(key.data_sha256, 12),
         short_sha(key.checkpoint_sha256, 12), key.limit, diff, field);
  }

  // Rows: none first (native, then imported), then each method in registry order by placement, ratio and origin.
  std::set<std::string> labels;
  for (const auto& r : runs) labels.insert(r.spec.method_label());
  const std::vector<std::string> order = in_registry_order(labels);
  auto rank = [&](const std::string& m) { return std::find(order.begin(), order.end(), m) - order.begin(); };
  std::map<std::tuple<int, long, int64_t, int64_t, bool>, Row> rows;
  for (const auto& r : runs) {
    const bool none = is_reference_method(r.spec.method);
    const bool imported = r.spec.benchmark().imported();
    Row& row = rows[{none ? 0 : 1, none ? 0L : static_cast<long>(rank(r.spec.method_label())), none ? 0 : r.spec.block_k,
                     none ? 0 : r.spec.ratio, imported}];
    row.method = r.spec.method_label();
    row.none = none;
    row.imported = imported;
    row.block = r.spec.block_k;
    row.ratio = r.spec.ratio;
    if (std::find(row.layers.begin(), row.layers.end(), r.spec.layer) == row.layers.end()) row.layers.push_back(r.spec.layer);
    row.seeds.emplace(r.spec.seed, &r);  // a second run of a seed (`none` at another placement) is the same questions again
    row.keys.push_back(r.spec.key());
  }

  // Values per row.
  struct Values {
    Stat headline, difference, unchanged, paired, visual, ttft50, ttft90, questions;
    std::shared_ptr<const BenchmarkEvidence> responses;
    bool tested = false;  // the headline from the responses, with its interval
  };
  std::map<bool, const Row*> base;  // imported -> its none row
  for (const auto& [k, row] : rows)
    if (row.none && !base.count(row.imported)) base[row.imported] = &row;
  std::map<const Row*, Values> values;
  bool untested = false;
  for (const auto& [k, row] : rows) {
    Values& v = values[&row];
    const auto responses = responses_of(row, task.name, metric);
    bool reproduced = responses != nullptr;
    for (const auto& [seed, run] : row.seeds) reproduced = reproduced && reproduces(*run, metric);
    if (reproduced) {
      v.headline = benchmark_stat(responses);  // keeps its resamples: the paired differences below subtract them
      v.tested = true;
    } else {
      v.headline = per_seed(row, [&](const RunRecord& r) { return r.value(metric); });
      untested = true;
    }
    v.responses = responses;
    v.visual = per_seed(row, mean_visual_tokens);
    v.ttft50 = per_seed(row, [](const RunRecord& r) { return ttft_percentile(r, 50); });
    v.ttft90 = per_seed(row, [](const RunRecord& r) { return ttft_percentile(r, 90); });
    v.questions = per_seed(row, question_count);
  }
  for (const auto& [k, row] : rows) {
    Values& v = values[&row];
    auto b = base.find(row.imported);
    if (row.none || b == base.end()) continue;
    const Values& bv = values[b->second];
    if (v.tested && bv.tested) v.difference = benchmark_difference(*v.responses, *bv.responses);
    if (v.responses && bv.responses) {
      const AnswerAgreement a = answer_agreement(*v.responses, *bv.responses);
      if (a.paired > 0) {
        v.unchanged = Stat::of({100.0 * static_cast<double>(a.same) / static_cast<double>(a.paired)});
        v.paired = Stat::of({static_cast<double>(a.paired)});
        v.unchanged.n = v.paired.n = a.seeds;
      }
    }
  }

  // Columns: the headline on lmms-eval's scale (fractions in 0..1 with 3 decimals), or the score in %.
  const bool aggregate = metric != "score";
  int decimals = 1;
  if (aggregate) {
    double largest = 0;
    for (const auto& [row, v] : values)
      if (!v.headline.missing()) largest = std::max(largest, std::fabs(v.headline.mean));
    decimals = largest <= 1.0 ? 3 : 1;
  }
  const std::string unit = aggregate ? "lmms-eval" : "%";
  const std::string header = aggregate ? task.headline : "score";
  Table t;
  t.family = kBenchmark;
  t.name = fmt::format("benchmark_{}_{}_{}{}", key.task, short_sha(key.data_sha256, 8), short_sha(key.checkpoint_sha256, 8),
                       key.limit > 0 ? fmt::format("_limit{}", key.limit) : "");
  const int64_t questions = first.questions;
  t.title = fmt::format("Benchmark {}: {} ({}), checkpoint {}", key.task, base_name(first.data),
                        key.limit > 0 ? fmt::format("the first {} questions", questions) : fmt::format("{} questions", questions),
                        runs.front().spec.checkpoint.empty() ? short_sha(key.checkpoint_sha256, 12)
                                                             : base_name(runs.front().spec.checkpoint));
  Column ttft50 = Column::of("TTFT p50", "ttft_p50", kBenchmark), ttft90 = Column::of("TTFT p90", "ttft_p90", kBenchmark);
  ttft50.better = ttft90.better = Better::kNone;  // measured one run after another, not interleaved: not ranked
  t.columns = {Column::label("method"),
               Column::label("placement"),
               Column::label("r"),
               {header, unit, decimals, Better::kHigher, true, false, metric, kBenchmark},
               {"vs none", aggregate ? unit : "points", decimals, Better::kNone, true, false, metric + "_vs_none",
                kBenchmark},
               {"unchanged vs none", "%", 1, Better::kNone, false, false, "unchanged_vs_none", kBenchmark},
               {"paired", "questions", 0, Better::kNone, false, false, "paired_vs_none", kBenchmark},
               Column::of("visual tokens", "visual_tokens", kBenchmark, "per question"),
               ttft50,
               ttft90,
               Column::of("questions", "questions", kBenchmark, "per run"),
               Column::label("seeds")};
  std::string previous;
  bool any_imported = false;
  std::set<int> seed_counts;
  std::set<std::string> commits;
  for (const auto& [k, row] : rows) {
    const Values& v = values[&row];
    any_imported = any_imported || row.imported;
    if (!row.none && row.method != previous) t.rules.push_back(t.rows.size());
    previous = row.none ? "" : row.method;
    seed_counts.insert(static_cast<int>(row.seeds.size()));
    for (const auto& [seed, run] : row.seeds) commits.insert(run->provenance.commit());
    t.add_row({Cell::text(row.method + (row.imported ? fmt::format(" ({})", kImported) : "")),
               Cell::text(row.none ? "-" : fmt::format("{} (k={})", placement_label(row), row.block)),
               Cell::text(row.none ? "-" : std::to_string(row.ratio)),
               Cell::value(v.headline),
               Cell::difference(v.difference),
               Cell::value(v.unchanged),
               Cell::value(v.paired),
               Cell::value(v.visual),
               Cell::value(v.ttft50),
               Cell::value(v.ttft90),
               Cell::value(v.questions),
               Cell::text(std::to_string(row.seeds.size()))},
              row.none, row_key(row));
  }

  // Notes: what the numbers are, and what stands behind them.
  const bool images = task.resample_images;
  const std::string units = images ? "images (each with all its questions)" : "questions";
  t.notes.push_back(fmt::format(
      "Task `{}` scored as lmms-eval scores it ({}); benchmark file `{}` (SHA-256 {}), {}; checkpoint `{}` (SHA-256 "
      "{}); runs of another task, file, checkpoint or limit are in tables of their own",
      key.task, task.lmms_eval, first.data, short_sha(key.data_sha256, 12),
      key.limit > 0 ? fmt::format("its first {} questions (--limit)", questions) : fmt::format("all {} questions", questions),
      runs.front().spec.checkpoint, short_sha(key.checkpoint_sha256, 12)));
  t.notes.push_back(fmt::format(
      "{}: {}, recomputed from the stored responses; mean over seeds [95% bootstrap interval: {} resamples, the seeds "
      "resampled, then within each seed its {} with replacement, stratified by category (each keeps its number); 2.5 "
      "and 97.5 percentiles; fixed generator seed, so the same runs give the same interval]{}",
      header,
      aggregate ? "the task's headline as lmms-eval aggregates it, on its scale (the task's aggregate on every resample)"
                : "the mean per-question score x 100 (%)",
      kBootstrapResamples, units,
      images ? "; images are the unit because the task's aggregate reads an image's questions together (MME's acc+ "
               "needs both questions of an image right)"
             : ""));
  std::vector<std::string> bases;
  for (const auto& [imported, row] : base) {
    std::vector<std::string> seeds;
    for (const auto& [seed, run] : row->seeds) seeds.push_back(std::to_string(seed));
    bases.push_back(fmt::format("`{}`{} (run{} {}; seed{} {})", row->method, imported ? fmt::format(" ({})", kImported) : "",
                                row->keys.size() == 1 ? "" : "s", fmt::join(row->keys, ", "), seeds.size() == 1 ? "" : "s",
                                fmt::join(seeds, ", ")));
  }
  t.notes.push_back(fmt::format(
      "vs none: this row's {} minus `none`'s on the questions both answered (same seed and question id{}), mean over "
      "the seeds both have [95% paired bootstrap interval: {} resamples, the same resampled {} applied to both runs]; "
      "unchanged vs none: the share of those paired questions whose parsed answer equals `none`'s; paired: how many "
      "(questions x seeds); base: {}",
      header, images ? "; an image only with all its questions in both" : "", kBootstrapResamples, units,
      bases.empty() ? std::string("no `none` run (- in these columns)") : fmt::format("{}", fmt::join(bases, "; "))));
  t.notes.push_back(
      "visual tokens: per question, that reach the LM (after compression), mean over its questions; TTFT: time to the "
      "first token (image processing excluded), the 50th and 90th percentile over a run's questions; both mean over "
      "seeds (± sample std); - for runs imported from lmms-eval, which store no costs. TTFT is not ranked: benchmark "
      "runs are timed one after another, not interleaved (`laco run --eval efficiency` measures speed)");
  if (any_imported)
    t.notes.push_back(fmt::format("({}): a run imported from lmms-eval's --log_samples output, scored by laco's scorer; "
                                  "a row apart from the native run, compared with the imported `none` only",
                                  kImported));
  if (untested)
    t.notes.push_back(fmt::format("A {} without an interval is the runs' stored value (mean ± sample std over seeds): "
                                  "their responses are missing or do not give it back (the task's aggregate reads what "
                                  "a response does not store); it is not tested",
                                  header));
  std::vector<std::string> c(commits.begin(), commits.end());
  t.notes.push_back(fmt::format("n: seeds per row {}, questions per run {}; - = no value; git commit(s): {}",
                                range_text(seed_counts), questions,
                                c.empty() ? std::string("unknown") : fmt::format("{}", fmt::join(c, ", "))));
  t.mark_best();
  return t;
}

std::vector<Table> benchmark_tables(const std::vector<RunRecord>& runs) {
  std::map<BenchmarkTableKey, std::vector<RunRecord>> by_key;
  for (const auto& r : runs)
    if (r.spec.is_benchmark()) by_key[benchmark_table_key(r.spec)].push_back(r);
  std::vector<Table> tables;
  for (const auto& [key, group] : by_key) tables.push_back(benchmark_table(group));
  return tables;
}

}  // namespace laco
