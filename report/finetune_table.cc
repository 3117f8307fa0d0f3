#include "report/finetune_table.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "evals/metrics.h"
#include "evals/run_spec.h"
#include "harness/base/error.h"
#include "harness/model/placement.h"
#include "methods/registry.h"
#include "report/plots.h"

namespace laco {

namespace {

const char* kFinetune = "finetune";

std::string short_digest(const std::string& sha, size_t n) { return sha.empty() ? "unknown" : sha.substr(0, n); }

std::string file_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos || slash + 1 == path.size() ? path : path.substr(slash + 1);
}

// What the seeds of one row share: the configuration less the seed, the
// out folder, and the paths of the data file and the checkpoint (their
// digests stay), and the spelling of the placement (its block stays).
nlohmann::json finetune_row_configuration(const RunSpec& spec) {
  nlohmann::json c = to_json(spec);
  for (const char* k : {"seed", "out", "finetune_data", "checkpoint_dir", "save_every", "layer"}) c.erase(k);
  return c;
}

// One row: a fine-tune, or the seeds of one otherwise equal configuration (by seed).
struct FinetuneRow {
  std::vector<const RunRecord*> runs;
  nlohmann::json configuration;

  const RunSpec& spec() const { return runs.front()->spec; }
  bool none() const { return is_reference_method(spec().method); }
  std::string placement() const {
    if (none()) return "-";
    std::string label;
    for (const auto* r : runs)
      if (std::find(standard_placements().begin(), standard_placements().end(), r->spec.layer) !=
          standard_placements().end()) {
        label = r->spec.layer;
        break;
      }
    if (label.empty()) label = Placement::parse(spec().layer, "placement").label();
    return fmt::format("{} (k={})", label, spec().block_k);
  }
  std::string stage() const {
    const FinetuneSettings& t = spec().finetune();
    return t.train_encoder == "none" ? std::to_string(t.stage) : fmt::format("{} + encoder {}", t.stage, t.train_encoder);
  }
  std::vector<std::string> outs() const {
    std::vector<std::string> o;
    for (const auto* r : runs) o.push_back(r->spec.finetune().out);
    return o;
  }
  // The mean over the seeds [95% t interval] of a metric (the runs that have it).
  Stat value(const std::string& metric) const {
    std::vector<double> v;
    for (const auto* r : runs)
      if (const auto x = r->value(metric)) v.push_back(*x);
    return mean_t_stat(v);
  }
};

// The rows of one file's fine-tunes: none first, then methods in registry
// order, by placement, ratio, stage, steps, accumulation, checkpoint and
// configuration; a seed present twice in one configuration: a row per run.
std::vector<FinetuneRow> finetune_rows(const std::vector<RunRecord>& runs) {
  std::map<std::string, std::vector<const RunRecord*>> by_configuration;
  std::map<std::string, nlohmann::json> configurations;
  for (const auto& r : runs) {
    const nlohmann::json c = finetune_row_configuration(r.spec);
    by_configuration[c.dump()].push_back(&r);
    configurations[c.dump()] = c;
  }
  std::vector<FinetuneRow> rows;
  for (auto& [text, group] : by_configuration) {
    std::stable_sort(group.begin(), group.end(), [](const RunRecord* a, const RunRecord* b) {
      return std::make_tuple(a->spec.seed, a->spec.finetune().out) < std::make_tuple(b->spec.seed, b->spec.finetune().out);
    });
    bool distinct = true;
    for (size_t i = 1; i < group.size(); ++i) distinct = distinct && group[i]->spec.seed != group[i - 1]->spec.seed;
    if (distinct) {
      rows.push_back({group, configurations[text]});
    } else {
      for (const auto* r : group) rows.push_back({{r}, configurations[text]});
    }
  }
  std::set<std::string> labels;
  for (const auto& r : runs) labels.insert(r.spec.method_label());
  const std::vector<std::string> order = in_registry_order(labels);
  auto sort_key = [&](const FinetuneRow& row) {
    const RunSpec& s = row.spec();
    const FinetuneSettings& t = s.finetune();
    const long rank = static_cast<long>(std::find(order.begin(), order.end(), s.method_label()) - order.begin());
    return std::make_tuple(row.none() ? 0 : 1, rank, s.block_k, s.ratio, t.stage, t.train_encoder, t.steps,
                           t.accumulation, s.checkpoint_sha256, row.configuration.dump(), row.outs());
  };
  std::stable_sort(rows.begin(), rows.end(),
                   [&](const FinetuneRow& a, const FinetuneRow& b) { return sort_key(a) < sort_key(b); });
  return rows;
}

// The CSV's identity of a row: what tells it from the table's other rows (report/render.h).
RowKey finetune_row_key(const FinetuneRow& row) {
  const RunSpec& s = row.spec();
  RowKey k;
  const std::string method = s.method_label();
  const auto open = method.find_first_of("{[");
  k.method = method.substr(0, open);
  std::vector<std::string> options;
  if (open != std::string::npos) options.push_back(method.substr(open + 1, method.size() - open - 2));
  const FinetuneSettings& t = s.finetune();
  options.push_back(fmt::format("stage={}", t.stage));
  if (t.train_encoder != "none") options.push_back("train_encoder=" + t.train_encoder);
  options.push_back(fmt::format("steps={}", t.steps));
  options.push_back(fmt::format("accumulation={}", t.accumulation));
  options.push_back("checkpoint=" + short_digest(s.checkpoint_sha256, 8));
  options.push_back(fmt::format("out={}", fmt::join(row.outs(), "|")));
  k.options = fmt::format("{}", fmt::join(options, ","));
  if (row.none()) return k;
  k.placement = row.placement().substr(0, row.placement().find(' '));
  k.block_benchmark = s.block_k;
  k.ratio = s.ratio;
  return k;
}

template <typename T>
std::string finetune_range(const std::set<T>& v) {
  if (v.empty()) return "-";
  return *v.begin() == *v.rbegin() ? fmt::format("{}", *v.begin()) : fmt::format("{} to {}", *v.begin(), *v.rbegin());
}

void check_one_file(const std::vector<RunRecord>& runs, const char* what) {
  if (runs.empty()) fail("{}: no fine-tunes", what);
  for (const auto& r : runs) {
    if (!r.spec.is_finetune()) fail("{}: run {} is an {} run, not a fine-tune", what, r.spec.label(), r.eval());
    if (r.spec.finetune().data_sha256 != runs.front().spec.finetune().data_sha256)
      fail("{}: run {} was fine-tuned on another conversation file (SHA-256 {}) than run {} ({}); losses on different "
           "data are not comparable (allowed: the runs of one file; finetune_tables() splits them)",
           what, r.spec.label(), short_digest(r.spec.finetune().data_sha256, 12), runs.front().spec.label(),
           short_digest(runs.front().spec.finetune().data_sha256, 12));
  }
}

}  // namespace

std::string finetune_table_name(const RunSpec& spec) {
  return "finetune_" + short_digest(spec.finetune().data_sha256, 8);
}

Table finetune_table(const std::vector<RunRecord>& runs) {
  check_one_file(runs, "finetune table");
  const std::vector<FinetuneRow> rows = finetune_rows(runs);
  const FinetuneSettings& first = runs.front().spec.finetune();

  Table t;
  t.family = kFinetune;
  t.name = finetune_table_name(runs.front().spec);
  t.title = fmt::format("Fine-tunes on {} ({} conversations)", file_name(first.data), first.conversations);
  // Not ranked: each fine-tune is its own model, and one training run has no repetitions to test a difference on.
  auto unranked = [](Column c, bool spread = true) {
    c.better = Better::kNone;
    c.spread = spread;
    return c;
  };
  t.columns = {Column::label("method"),
               Column::label("placement"),
               Column::label("r"),
               Column::label("stage"),
               Column::label("steps x accumulation"),
               unranked(Column::of("trained", "conversations_trained", kFinetune), false),
               unranked(Column::of("first loss", "first_loss", kFinetune)),
               unranked(Column::of("final loss", "final_loss", kFinetune)),
               unranked(Column::of("step time p50", "step_time_p50", kFinetune)),
               unranked(Column::of("throughput", "tokens_per_s", kFinetune)),
               unranked(Column::of("peak RSS", "peak_rss", kFinetune)),
               Column::label("checkpoint"),
               Column::label("out"),
               Column::label("seeds")};
  std::set<size_t> seeds;
  std::set<std::string> commits, threads, data_paths;
  std::map<std::string, std::set<std::string>> checkpoints;  // 8 digits -> folders
  double trained = 0, truncated = 0, unsupervised = 0;
  std::map<std::string, nlohmann::json> configurations;
  std::string previous;
  bool repeated_seed = false;
  for (const auto& row : rows) {
    const RunSpec& s = row.spec();
    const FinetuneSettings& f = s.finetune();
    if (!row.none() && s.method_label() != previous) t.rules.push_back(t.rows.size());
    previous = row.none() ? "" : s.method_label();
    seeds.insert(row.runs.size());
    for (const auto* r : row.runs) {
      commits.insert(r->provenance.commit());
      threads.insert(r->provenance.threads.empty()
                         ? std::to_string(r->spec.threads)
                         : fmt::format("{} (`{}`)", r->spec.threads, r->provenance.threads));
      data_paths.insert(r->spec.finetune().data);
      checkpoints[short_digest(r->spec.checkpoint_sha256, 8)].insert(r->spec.checkpoint);
      trained += r->value("conversations_trained").value_or(0);
      truncated += r->value("truncated").value_or(0);
      unsupervised += r->value("unsupervised").value_or(0);
    }
    repeated_seed = repeated_seed || (row.runs.size() == 1 && std::count_if(rows.begin(), rows.end(), [&](const FinetuneRow& o) {
                                        return o.configuration == row.configuration;
                                      }) > 1);
    // What tells rows apart beyond their columns (the note lists it).
    nlohmann::json beyond = row.configuration;
    for (const char* k : {"method", "method_options", "init", "projector", "block_k", "depth", "ratio", "grid_in",
                          "grid_out", "stage", "train_encoder", "steps", "accumulation", "checkpoint"})
      beyond.erase(k);
    configurations[fmt::format("{}", fmt::join(row.outs(), "|"))] = beyond;
    t.add_row({Cell::text(s.method_label()),
               Cell::text(row.placement()),
               Cell::text(row.none() ? "-" : std::to_string(s.ratio)),
               Cell::text(row.stage()),
               Cell::text(fmt::format("{} x {}", f.steps, f.accumulation)),
               Cell::value(row.value("conversations_trained")),
               Cell::value(row.value("first_loss")),
               Cell::value(row.value("final_loss")),
               Cell::value(row.value("step_time_p50")),
               Cell::value(row.value("tokens_per_s")),
               Cell::value(row.value("peak_rss")),
               Cell::text(short_digest(s.checkpoint_sha256, 8)),
               Cell::text(fmt::format("{}", fmt::join(row.outs(), ", "))),
               Cell::text(std::to_string(row.runs.size()))},
              false, finetune_row_key(row));
  }

  // Notes: the data, what the numbers are, what stands behind them.
  t.notes.push_back(fmt::format(
      "A released checkpoint fine-tuned with the method inside (`laco train`) on `{}` (SHA-256 {}, {} conversations); "
      "fine-tunes on another conversation file are in tables of their own: training losses on different data are not "
      "comparable",
      fmt::join(data_paths, "`, `"), short_digest(first.data_sha256, 12), first.conversations));
  t.notes.push_back(
      "first loss: the training loss of the first optimizer step; final loss: the mean training loss of the last 10 "
      "optimizer steps (all, when fewer); LLaVA's loss (nats): the mean cross-entropy over each conversation's "
      "supervised tokens, averaged over a step's conversations. Both are on the training data as it was trained, not "
      "held out: a lower loss is a closer fit, not a better model");
  t.notes.push_back(
      "stage 1: the method and the projector train; 2: the LM and image_newline too (+ encoder after / all: the vision "
      "blocks after the method / the whole tower); steps x accumulation: optimizer steps x conversations per step; "
      "trained: the conversations the steps went through (repeats over epochs counted)");
  t.notes.push_back(
      "step time p50: the median wall time of one optimizer step (its conversations' forward and backward, clipping, "
      "update); throughput: positions through the LM (visual tokens included) per second of the steps; peak RSS: the "
      "process's peak resident memory (VmHWM) at the end of the run; costs of one run, timed alone, not interleaved");
  t.notes.push_back(
      "Each row is one fine-tuned model (out: its folder), never pooled with another, but for the seeds of one "
      "otherwise equal configuration: their mean [95% t interval over the seeds, n - 1 degrees of freedom] (seeds: n; "
      "one seed: its value). Not ranked: one training run has no repetitions to tell noise from a difference");
  if (repeated_seed)
    t.notes.push_back("A seed fine-tuned twice in one configuration (two out folders) is two rows, not two seeds");
  std::vector<std::string> sources;
  for (const auto& [digest, folders] : checkpoints)
    sources.push_back(fmt::format("{} = `{}`", digest, fmt::join(folders, "`, `")));
  t.notes.push_back(fmt::format("checkpoint: the source's SHA-256 (first 8 hex digits): {}", fmt::join(sources, "; ")));
  if (configurations.size() > 1) {
    std::string field;
    const std::string diff = configuration_differences(configurations, &field);
    if (!diff.empty()) t.notes.push_back("Settings the rows differ in beyond their columns: " + diff);
  }
  if (truncated > 0)
    t.notes.push_back(fmt::format("Cut at max_length: {:.0f} of the {:.0f} conversations trained (repeats counted) over "
                                  "these runs, {:.0f} of them left without a supervised label (they add no loss)",
                                  truncated, trained, unsupervised));
  t.notes.push_back(fmt::format("Threads: {}", fmt::join(threads, "; ")));
  t.notes.push_back(
      "Loss curves: the HTML report plots each run's training loss at every optimizer step below this table");
  const std::vector<std::string> c(commits.begin(), commits.end());
  t.notes.push_back(fmt::format("n: seeds per row {}; - = no value; git commit(s): {}", finetune_range(seeds),
                                c.empty() ? std::string("unknown") : fmt::format("{}", fmt::join(c, ", "))));
  t.mark_best();  // ranks nothing; marks intervals short of 95% (none: a t interval is 95%)
  return t;
}

std::vector<Table> finetune_tables(const std::vector<RunRecord>& runs) {
  std::map<std::string, std::vector<RunRecord>> by_file;
  for (const auto& r : runs)
    if (r.spec.is_finetune()) by_file[r.spec.finetune().data_sha256].push_back(r);
  std::vector<Table> tables;
  for (const auto& [sha, group] : by_file) tables.push_back(finetune_table(group));
  return tables;
}

std::vector<std::pair<std::string, Chart>> finetune_loss_charts(const std::vector<RunRecord>& runs) {
  std::map<std::string, std::vector<RunRecord>> by_file;
  for (const auto& r : runs)
    if (r.spec.is_finetune()) by_file[r.spec.finetune().data_sha256].push_back(r);
  std::vector<std::pair<std::string, Chart>> charts;
  for (const auto& [sha, group] : by_file) {
    const FinetuneSettings& first = group.front().spec.finetune();
    Chart c;
    c.title = fmt::format("Training loss on {}", file_name(first.data));
    c.x_label = "optimizer step";
    c.y_label = "training loss (nats)";
    // The legend: method, placement and ratio; the stage where the table has several, the seed where a row has
    // several, the row's number where that still leaves two alike.
    const std::vector<FinetuneRow> rows = finetune_rows(group);
    std::set<std::string> stages;
    for (const auto& row : rows) stages.insert(row.stage());
    std::vector<std::pair<std::string, const RunRecord*>> lines;  // name, run
    std::vector<size_t> row_of;
    for (size_t k = 0; k < rows.size(); ++k)
      for (const auto* r : rows[k].runs) {
        const FinetuneRow& row = rows[k];
        std::string name = row.spec().method_label();
        if (!row.none())
          name += fmt::format(" {} r={}", row.placement().substr(0, row.placement().find(' ')), row.spec().ratio);
        if (stages.size() > 1) name += " stage " + row.stage();
        if (row.runs.size() > 1) name += fmt::format(" seed {}", r->spec.seed);
        lines.emplace_back(name, r);
        row_of.push_back(k + 1);
      }
    std::map<std::string, int> uses;
    for (const auto& [name, r] : lines) ++uses[name];
    for (size_t k = 0; k < lines.size(); ++k)
      if (uses[lines[k].first] > 1) lines[k].first += fmt::format(" (row {})", row_of[k]);
    // Wide enough for the longest name: its line and gap (50 px), then about 7 px a character at 12 px.
    size_t longest = 0;
    for (const auto& [name, r] : lines) longest = std::max(longest, name.size());
    c.legend_width = static_cast<int>(std::clamp<size_t>(50 + 7 * longest, 150, 420));
    bool any = false;
    for (const auto& [name, r] : lines) {
      PlotSeries s;
      s.name = name;
      s.markers = false;  // a point per step: the line is the curve
      auto loss = r->series.find("loss");
      if (loss != r->series.end())
        for (const auto& [step, value] : loss->second)
          if (std::isfinite(value)) s.points.emplace_back(static_cast<double>(step), value);
      any = any || !s.points.empty();
      c.series.push_back(std::move(s));
    }
    if (any) charts.emplace_back(finetune_table_name(group.front().spec), std::move(c));
  }
  return charts;
}

}  // namespace laco
