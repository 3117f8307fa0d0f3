#include "report/run_index.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "evals/metrics.h"
#include "harness/base/error.h"
#include "harness/model/placement.h"
#include "methods/registry.h"

namespace laco {
namespace {

const char* kAccuracy = "accuracy";
const char* kEfficiency = "efficiency";

// An accuracy or efficiency run: one of the SynthVQA tables' (not a benchmark run, not a fine-tune).
bool is_synthvqa(const RunSpec& spec) { return spec.is_accuracy() || spec.is_efficiency(); }

std::string most_common(const std::map<std::string, int>& counts) {
  std::string best;
  int n = -1;
  for (const auto& [name, c] : counts)
    if (c > n) best = name, n = c;  // ties: the first alphabetically
  return best;
}

// What identifies a cell's runs besides their cell (method, placement, ratio):
// the configuration less the seed, the stage-0 identity (it holds the seed),
// and the fields that name the cell itself.
nlohmann::json pooled_configuration(const RunSpec& spec) {
  nlohmann::json c = to_json(spec);
  for (const char* k : {"seed", "stage0_key", "layer", "block_k", "ratio", "method", "method_options", "init",
                        "projector", "grid_out", "external"})
    c.erase(k);
  return c;
}

}  // namespace

std::string configuration_differences(const std::map<std::string, nlohmann::json>& configurations, std::string* first_field) {
  std::set<std::string> keys;
  for (const auto& [text, c] : configurations)
    for (const auto& [k, v] : c.items()) keys.insert(k);
  std::vector<std::string> parts;
  for (const auto& k : keys) {
    std::set<std::string> values;
    for (const auto& [text, c] : configurations) values.insert(c.contains(k) ? c[k].dump() : "(absent)");
    if (values.size() < 2) continue;
    if (first_field->empty()) *first_field = k;
    parts.push_back(fmt::format("{} ({})", k, fmt::join(values, ", ")));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}


std::vector<std::string> in_registry_order(const std::set<std::string>& methods) {
  std::vector<std::string> out;
  for (const auto& name : method_names())
    for (const auto& m : methods)
      if (m == name || m.rfind(name + "[", 0) == 0) out.push_back(m);
  for (const auto& m : methods)
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  return out;
}


RunIndex::RunIndex(const std::vector<RunRecord>& runs, const ReportOptions& options) : RunIndex(runs, options, 1) {
  for (const auto& r : runs) {
    if (r.spec.is_benchmark()) benchmark_runs_.push_back(r);
    if (r.spec.is_finetune()) finetune_runs_.push_back(r);
  }
  for (int64_t b : budgets_.present)
    if (b != 1) other_budgets_[b] = std::shared_ptr<const RunIndex>(new RunIndex(runs, options, b));
}

const RunIndex& RunIndex::at_budget(int64_t b) const {
  if (b == budget_) return *this;
  auto it = other_budgets_.find(b);
  if (it == other_budgets_.end())
    fail("report: no accuracy runs at budget x{} (allowed: {})", b,
         budgets_.present.empty() ? std::string("none") : fmt::format("{}", fmt::join(budgets_.present, ", ")));
  return *it->second;
}

RunIndex::RunIndex(const std::vector<RunRecord>& runs, const ReportOptions& options, int64_t budget) : budget_(budget) {
  std::map<std::string, int> acc_presets, eff_presets;
  // Only SynthVQA runs name the presets: benchmark runs and fine-tunes have tables of their own.
  for (const auto& r : runs)
    if (is_synthvqa(r.spec)) (r.spec.is_accuracy() ? acc_presets : eff_presets)[r.spec.preset]++;
  accuracy_preset_ = options.accuracy_preset.empty() ? most_common(acc_presets) : options.accuracy_preset;
  efficiency_preset_ = options.efficiency_preset.empty() ? most_common(eff_presets) : options.efficiency_preset;
  budgets_ = training_budgets(runs, accuracy_preset_);

  std::set<std::string> methods, commits, layers;
  std::set<int64_t> ratios, gen_tokens, decode_batches;
  for (const auto& r : runs) {
    if (!is_synthvqa(r.spec)) continue;  // its own tables (benchmark_runs(), finetune_runs())
    if (r.spec.preset != (r.eval() == kAccuracy ? accuracy_preset_ : efficiency_preset_)) continue;
    // Budget 1 keeps the runs of unknown budget (0), so that mixed configurations are refused as before.
    const int64_t b = budgets_.of(r.spec);
    if (budget == 1 ? b > 1 : b != budget) continue;
    const std::string method = r.spec.method_label();
    methods.insert(method);
    commits.insert(r.provenance.commit());
    if (r.spec.depth > 0) depths_[r.eval()] = r.spec.depth;
    auto& group = groups_[key(r.eval(), method, r.spec.block_k, r.spec.ratio)];
    const nlohmann::json pooled = pooled_configuration(r.spec);
    group.configurations[pooled.dump()] = pooled;
    auto& values = group.by_seed[r.spec.seed];
    for (const auto& m : r.metrics) values[m.name].push_back(m.value);
    if (!r.predictions.empty() && !group.predictions.count(r.spec.seed)) {
      group.predictions[r.spec.seed] = r.predictions;
      std::map<std::string, size_t> per_family;
      for (const auto& q : r.predictions) ++per_family[q.family];
      for (const auto& [f, n] : per_family) questions_.insert(n);
    }
    if (r.eval() == kEfficiency) {
      ++efficiency_runs_;
      measurement_groups_[r.spec.seed].insert(r.group_key.empty() ? "alone " + r.spec.key() : r.group_key);
      const auto& e = r.spec.efficiency();
      gen_tokens.insert(e.gen_tokens.begin(), e.gen_tokens.end());
      if (!e.gen_tokens.empty()) decode_batches.insert(e.batch);
    }
    // The measurement this run's rounds belong to: the runs measured with it share it.
    const auto measurement = r.facts.find("measurement");
    const bool pairable = measurement != r.facts.end() && measurement->is_string();
    for (const auto& [metric, reps] : r.samples) {
      auto& into = group.samples[r.spec.seed][metric];
      into.insert(into.end(), reps.begin(), reps.end());
      repetitions_.insert(reps.size());
      // Two runs of one cell in one measurement (a `none` stored at two placements by an old sweep): the first pairs.
      if (pairable) group.rounds[r.spec.seed][metric].emplace(measurement->get<std::string>(), reps);
    }
    if (is_reference_method(method)) continue;  // its placement and ratio say nothing
    ratios.insert(r.spec.ratio);
    layers.insert(r.spec.layer);
  }
  // One label per placement: spellings that resolve to the same blocks in
  // every evaluation are one placement, named by a standard fraction if one is among them.
  std::vector<std::pair<std::string, std::vector<int64_t>>> seen;  // label, blocks per eval
  std::vector<std::string> ordered(layers.begin(), layers.end());
  std::stable_partition(ordered.begin(), ordered.end(), [](const std::string& l) {
    return std::find(standard_placements().begin(), standard_placements().end(), l) != standard_placements().end();
  });
  for (const auto& layer : ordered) {
    const std::vector<int64_t> blocks = blocks_of(layer);
    if (std::none_of(seen.begin(), seen.end(), [&](const auto& s) { return s.second == blocks; }))
      seen.emplace_back(layer, blocks);
  }
  for (const auto& [key, group] : groups_) seeds_.insert(group.by_seed.size());
  for (const auto& [label, blocks] : seen) placements_.push_back(label);
  external_ = canonical(kAfterEncoder);
  std::stable_sort(placements_.begin(), placements_.end(),
                   [&](const std::string& a, const std::string& b) { return fraction(a) < fraction(b); });
  ratios_.assign(ratios.begin(), ratios.end());
  gen_tokens_.assign(gen_tokens.begin(), gen_tokens.end());
  decode_batches_.assign(decode_batches.begin(), decode_batches.end());
  methods_ = in_registry_order(methods);
  commits_.assign(commits.begin(), commits.end());
}

std::string RunIndex::key(const std::string& eval, const std::string& method, int64_t block, int64_t ratio) const {
  if (is_reference_method(method)) return eval + "|none";
  return fmt::format("{}|{}|{}|{}", eval, method, block, ratio);
}

double RunIndex::fraction(const std::string& placement) const {
  const Placement p = Placement::parse(placement, "--placement");
  for (const char* eval : {kAccuracy, kEfficiency}) {
    auto it = depths_.find(eval);
    if (it != depths_.end()) return p.fraction(it->second);
  }
  return p.fraction(1);
}

std::vector<int64_t> RunIndex::blocks_of(const std::string& placement) const {
  std::vector<int64_t> blocks;
  for (const auto& [eval, depth] : depths_) blocks.push_back(block(eval, placement));
  return blocks;
}

std::string RunIndex::canonical(const std::string& placement) const {
  const std::vector<int64_t> blocks = blocks_of(placement);
  for (const auto& label : placements_)
    if (blocks_of(label) == blocks) return label;
  return Placement::parse(placement, "--placement").label();
}

std::optional<Stat> RunIndex::from_raw_data(const std::string& eval, const Group& group,
                                            const std::string& metric) const {
  // The registry says which statistic the metric takes (evals/metrics.h); one without an entry has no raw data.
  const MetricInfo* info = lookup_metric(metric, eval);
  const Statistic statistic = info ? info->statistic : Statistic::kMean;
  if (statistic == Statistic::kAccuracy && !group.predictions.empty() &&
      group.predictions.size() == group.by_seed.size()) {
    auto evidence = accuracy_evidence(group.predictions, metric);
    if (!evidence) return std::nullopt;  // a family some seed lacks
    return accuracy_stat(evidence);
  }
  if (statistic == Statistic::kTiming && !group.samples.empty() && group.samples.size() == group.by_seed.size()) {
    std::vector<double> samples;
    std::map<std::string, std::vector<double>> rounds;
    for (const auto& [seed, metrics] : group.samples) {
      auto m = metrics.find(metric);
      if (m == metrics.end()) return std::nullopt;
      samples.insert(samples.end(), m->second.begin(), m->second.end());
      auto seed_rounds = group.rounds.find(seed);
      if (seed_rounds == group.rounds.end()) continue;
      auto by_measurement = seed_rounds->second.find(metric);
      if (by_measurement != seed_rounds->second.end())
        rounds.insert(by_measurement->second.begin(), by_measurement->second.end());
    }
    Stat s = timing_stat(std::move(samples), std::move(rounds));
    s.n = static_cast<int>(group.samples.size());
    return s;
  }
  return std::nullopt;
}

std::string RunIndex::sizes() const {
  auto range = [](const std::set<size_t>& v) {
    if (v.empty()) return std::string("-");
    return *v.begin() == *v.rbegin() ? std::to_string(*v.begin())
                                     : fmt::format("{} to {}", *v.begin(), *v.rbegin());
  };
  // Cells pool seeds; a comparison is interleaved when each seed's runs were measured in one group.
  std::string groups;
  size_t most = 0;
  for (const auto& [seed, keys] : measurement_groups_) most = std::max(most, keys.size());
  if (most == 1)
    groups = fmt::format("; the {} efficiency runs measured in one interleaved group per seed", efficiency_runs_);
  else if (most > 1)
    groups = fmt::format("; the {} efficiency runs measured in up to {} separate groups per seed (timings of different "
                         "groups were not measured together: a difference between them includes the machine's drift)",
                         efficiency_runs_, most);
  return fmt::format("n: seeds per value {}, test questions per family {}, timed repetitions per run {}{}",
                     range(seeds_), questions_.empty() ? std::string("- (no stored predictions)") : range(questions_),
                     repetitions_.empty() ? std::string("- (no stored samples)") : range(repetitions_), groups);
}

Stat RunIndex::stat(const std::string& eval, const std::string& method, const std::string& placement, int64_t ratio,
                    const std::string& metric) const {
  const int64_t k = is_reference_method(method) ? 0 : block(eval, placement);
  if (!is_reference_method(method) && k == 0) return {};
  const std::string group_key = key(eval, method, k, ratio);
  auto it = groups_.find(group_key);
  if (it == groups_.end()) return {};
  auto cached = cache_.find(group_key + "|" + metric);
  if (cached != cache_.end()) return cached->second;
  if (it->second.configurations.size() > 1) {
    std::string field;
    const std::string diff = configuration_differences(it->second.configurations, &field);
    fail("report: the {} runs of {}{} differ in more than the seed: {}; they are not pooled (allowed: one "
         "configuration per table cell; choose one with --where {}=VALUE, or report them separately)",
         eval, method, is_reference_method(method) ? std::string() : fmt::format(" at {} (block {}), r = {}", placement, k, ratio),
         diff, field);
  }
  if (auto raw = from_raw_data(eval, it->second, metric)) return cache_[group_key + "|" + metric] = *raw;
  // One value per seed: repeated runs of a seed (a `none` recorded at several
  // placements) would otherwise count as independent samples.
  std::vector<double> per_seed;
  for (const auto& [seed, metrics] : it->second.by_seed) {
    auto m = metrics.find(metric);
    if (m == metrics.end() || m->second.empty()) continue;
    double sum = 0;
    for (double v : m->second) sum += v;
    per_seed.push_back(sum / static_cast<double>(m->second.size()));
  }
  return Stat::of(per_seed);
}

int64_t RunIndex::block(const std::string& eval, const std::string& placement) const {
  auto it = depths_.find(eval);
  if (it == depths_.end()) return 0;
  try {
    return Placement::parse(placement, "--placement").resolve(it->second);
  } catch (const Error&) {
    return 0;  // block:K past this encoder's depth
  }
}

std::vector<std::string> RunIndex::commits() const { return commits_; }

}  // namespace laco
