#include "report/benchmark_stats.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "harness/base/error.h"

namespace laco {
namespace {

// The bootstrap stream of report/stats.h (0 and 1 are the accuracy intervals'):
// one for every benchmark interval, single or paired, so that they draw alike.
constexpr uint64_t kStream = 2;

const char* kScore = "score";
const char* kTaskPrefix = "task_";

// What the task's aggregate reads of each response (the per-sample fields
// left out: no aggregate reads them, and copying them per resample would cost
// more than the aggregate).
struct Prepared {
  std::vector<TaskQuestion> questions;
  std::vector<QuestionScore> scores;
};

Prepared prepare(const std::vector<Response>& responses) {
  Prepared p;
  p.questions.reserve(responses.size());
  p.scores.reserve(responses.size());
  for (const Response& r : responses) {
    TaskQuestion q;
    q.id = r.id;
    q.category = r.category;
    q.image_id = r.image_id;
    q.answers = r.target;
    p.questions.push_back(std::move(q));
    QuestionScore s;
    s.parsed = r.parsed;
    s.score = r.score;
    p.scores.push_back(std::move(s));
  }
  return p;
}

void check_metric(const std::string& metric) {
  if (metric != kScore && (metric.rfind(kTaskPrefix, 0) != 0 || metric.size() == std::string(kTaskPrefix).size()))
    fail("benchmark metric '{}': not recomputable from responses (allowed: score, task_NAME)", metric);
}

double aggregate_value(const TaskType& task, const std::string& metric, const std::vector<TaskQuestion>& questions,
                       const std::vector<QuestionScore>& scores) {
  const std::string name = metric.substr(std::string(kTaskPrefix).size());
  std::vector<std::string> reported;
  for (const TaskMetric& m : task.aggregate(questions, scores)) {
    if (m.name == name) return m.value;
    reported.push_back(m.name);
  }
  fail("benchmark {}: the aggregate reports no '{}' ({}) on these {} questions (allowed: {})", task.name, name, metric,
       questions.size(), reported.empty() ? std::string("none") : fmt::format("{}", fmt::join(reported, ", ")));
}

double mean_percent(const std::vector<QuestionScore>& scores, const std::string& task) {
  return 100.0 * lmms_mean(score_values(scores), task);
}

using Units = std::vector<std::vector<std::vector<size_t>>>;  // stratum -> unit -> response indices
using Draw = std::vector<std::vector<size_t>>;                // stratum -> the units drawn, by number

Draw draw_units(std::mt19937_64& rng, const Units& units) {
  Draw d(units.size());
  for (size_t s = 0; s < units.size(); ++s) {
    d[s].reserve(units[s].size());
    for (size_t i = 0; i < units[s].size(); ++i) d[s].push_back(bootstrap_draw(rng, units[s].size()));
  }
  return d;
}

// The value on one resample (reusing `qs` and `ss` between calls).
double value_of_draw(const TaskType& task, const std::string& metric, const Prepared& p, const Units& units,
                     const Draw& d, std::vector<TaskQuestion>& qs, std::vector<QuestionScore>& ss) {
  if (metric == kScore) {
    // lmms_mean's order of operations: the scores summed in order, over their count.
    double sum = 0;
    size_t n = 0;
    for (size_t s = 0; s < units.size(); ++s)
      for (size_t u : d[s])
        for (size_t i : units[s][u]) sum += p.scores[i].score, ++n;
    if (n == 0) fail("benchmark {}: no questions to aggregate", task.name);
    return 100.0 * (sum / static_cast<double>(n));
  }
  size_t n = 0;
  for (size_t s = 0; s < units.size(); ++s)
    for (size_t u : d[s]) n += units[s][u].size();
  // Assigned field by field into the previous resample's objects: their strings keep their capacity, so a
  // resample allocates (almost) nothing; prepare() sets no other field.
  qs.resize(n);
  ss.resize(n);
  size_t j = 0;
  std::vector<int> times;
  for (size_t s = 0; s < units.size(); ++s) {
    times.assign(units[s].size(), 0);
    for (size_t u : d[s]) {
      const int k = ++times[u];
      for (size_t i : units[s][u]) {
        const TaskQuestion& from = p.questions[i];
        TaskQuestion& q = qs[j];
        q.id = from.id;
        q.category = from.category;
        q.image_id = from.image_id;
        // An image drawn again is another image to the aggregate (MME pairs two questions per image).
        if (k > 1 && task.resample_images) q.image_id += "#" + std::to_string(k);
        q.answers = from.answers;
        ss[j].parsed = p.scores[i].parsed;
        ss[j].score = p.scores[i].score;
        ++j;
      }
    }
  }
  return aggregate_value(task, metric, qs, ss);
}

double value_of(const TaskType& task, const std::string& metric, const Prepared& p) {
  if (metric == kScore) return mean_percent(p.scores, task.name);
  return aggregate_value(task, metric, p.questions, p.scores);
}

}  // namespace

std::string benchmark_headline_metric(const TaskType& task) {
  return task.headline.empty() ? std::string(kScore) : kTaskPrefix + task.headline;
}

double benchmark_value(const TaskType& task, const std::string& metric, const std::vector<Response>& responses) {
  check_metric(metric);
  if (responses.empty()) fail("benchmark {}: no questions to aggregate", task.name);
  return value_of(task, metric, prepare(responses));
}

bool reproduces(const RunRecord& run, const std::string& metric) {
  if (!run.spec.is_benchmark() || run.responses.empty()) return false;
  const auto stored = run.value(metric);
  if (!stored) return false;
  try {
    const double v = benchmark_value(find_task(run.spec.benchmark().task), metric, run.responses);
    return std::fabs(v - *stored) <= 1e-9 * std::max(1.0, std::fabs(*stored));
  } catch (const Error&) {
    return false;  // an aggregate that needs what a response does not store
  }
}

std::vector<std::vector<std::vector<size_t>>> resampling_units(const TaskType& task,
                                                               const std::vector<Response>& responses) {
  Units units;
  std::map<std::string, size_t> stratum_of;                           // category -> stratum
  std::map<std::pair<size_t, std::string>, size_t> unit_of;           // (stratum, image) -> unit
  for (size_t i = 0; i < responses.size(); ++i) {
    const Response& r = responses[i];
    auto [s, added] = stratum_of.emplace(r.category, units.size());
    if (added) units.emplace_back();
    auto& stratum = units[s->second];
    if (!task.resample_images) {
      stratum.push_back({i});
      continue;
    }
    auto [u, new_unit] = unit_of.emplace(std::make_pair(s->second, r.image_id), stratum.size());
    if (new_unit) stratum.emplace_back();
    stratum[u->second].push_back(i);
  }
  return units;
}

namespace {

// The resample means of benchmark_interval.
std::vector<double> resample_means(const TaskType& task, const std::string& metric,
                                   const std::vector<std::vector<Response>>& responses, int resamples) {
  check_metric(metric);
  if (responses.empty()) return {};
  std::vector<Prepared> seeds;
  std::vector<Units> units;
  for (const auto& r : responses) {
    if (r.empty()) fail("benchmark {}: a seed has no questions to aggregate", task.name);
    seeds.push_back(prepare(r));
    units.push_back(resampling_units(task, r));
  }
  std::mt19937_64 rng = bootstrap_rng(kStream);
  std::vector<double> means;
  means.reserve(static_cast<size_t>(resamples));
  std::vector<TaskQuestion> qs;
  std::vector<QuestionScore> ss;
  for (int b = 0; b < resamples; ++b) {
    double sum = 0;
    for (size_t i = 0; i < seeds.size(); ++i) {
      const size_t k = bootstrap_draw(rng, seeds.size());
      sum += value_of_draw(task, metric, seeds[k], units[k], draw_units(rng, units[k]), qs, ss);
    }
    means.push_back(sum / static_cast<double>(seeds.size()));
  }
  return means;
}

// Same seeds, and per seed the same questions in the same order: the same units, so the same draws.
bool aligned(const BenchmarkEvidence& a, const BenchmarkEvidence& b) {
  if (a.seeds.size() != b.seeds.size()) return false;
  for (auto x = a.seeds.begin(), y = b.seeds.begin(); x != a.seeds.end(); ++x, ++y) {
    if (x->first != y->first || x->second.size() != y->second.size()) return false;
    for (size_t i = 0; i < x->second.size(); ++i) {
      const Response &p = x->second[i], &q = y->second[i];
      if (p.id != q.id || p.category != q.category || p.image_id != q.image_id) return false;
    }
  }
  return true;
}

}  // namespace

Interval benchmark_interval(const TaskType& task, const std::string& metric,
                            const std::vector<std::vector<Response>>& responses, int resamples) {
  return percentile_interval(resample_means(task, metric, responses, resamples));
}

Stat benchmark_stat(const std::shared_ptr<BenchmarkEvidence>& evidence, int resamples) {
  BenchmarkEvidence& e = *evidence;
  const TaskType& task = find_task(e.task);
  std::vector<std::vector<Response>> seeds;
  std::vector<double> per_seed;
  for (const auto& [seed, responses] : e.seeds) {
    per_seed.push_back(benchmark_value(task, e.metric, responses));
    seeds.push_back(responses);
  }
  Stat s = Stat::of(per_seed);
  if (seeds.empty()) return s;
  e.resampled = resample_means(task, e.metric, seeds, resamples);
  s.ci = percentile_interval(e.resampled);
  auto ev = std::make_shared<Evidence>();
  ev->benchmark = evidence;
  s.evidence = ev;
  return s;
}

PairedResponses pair_responses(const TaskType& task, const std::vector<Response>& a, const std::vector<Response>& b) {
  std::map<std::string, size_t> in_b;
  for (size_t i = 0; i < b.size(); ++i) in_b.emplace(b[i].id, i);
  // Where images are the unit, an image is kept only when both runs have every question of it.
  std::set<std::pair<std::string, std::string>> whole;
  if (task.resample_images) {
    std::map<std::pair<std::string, std::string>, int> count_a, count_b, count_both;
    for (const auto& r : a) ++count_a[{r.category, r.image_id}];
    for (const auto& r : b) ++count_b[{r.category, r.image_id}];
    for (const auto& r : a) {
      auto it = in_b.find(r.id);
      if (it != in_b.end() && b[it->second].category == r.category && b[it->second].image_id == r.image_id)
        ++count_both[{r.category, r.image_id}];
    }
    for (const auto& [image, n] : count_both)
      if (n == count_a[image] && n == count_b[image]) whole.insert(image);
  }
  PairedResponses p;
  for (const auto& r : a) {
    auto it = in_b.find(r.id);
    if (it == in_b.end()) continue;
    if (task.resample_images && !whole.count({r.category, r.image_id})) continue;
    p.a.push_back(r);
    p.b.push_back(b[it->second]);
  }
  return p;
}

Interval paired_benchmark_interval(const TaskType& task, const std::string& metric,
                                   const std::vector<PairedResponses>& seeds, int resamples) {
  check_metric(metric);
  if (seeds.empty()) return {0, 0, 0};
  std::vector<Prepared> a, b;
  std::vector<Units> units;
  for (const auto& p : seeds) {
    if (p.a.empty() || p.a.size() != p.b.size()) fail("benchmark {}: paired responses are empty or unaligned", task.name);
    a.push_back(prepare(p.a));
    b.push_back(prepare(p.b));
    units.push_back(resampling_units(task, p.a));  // aligned: the same units index both runs
  }
  std::mt19937_64 rng = bootstrap_rng(kStream);
  std::vector<double> diffs;
  diffs.reserve(static_cast<size_t>(resamples));
  std::vector<TaskQuestion> qs;
  std::vector<QuestionScore> ss;
  for (int r = 0; r < resamples; ++r) {
    double sum = 0;
    for (size_t i = 0; i < seeds.size(); ++i) {
      const size_t k = bootstrap_draw(rng, seeds.size());
      const Draw d = draw_units(rng, units[k]);  // the same questions for both runs
      sum += value_of_draw(task, metric, a[k], units[k], d, qs, ss) - value_of_draw(task, metric, b[k], units[k], d, qs, ss);
    }
    diffs.push_back(sum / static_cast<double>(seeds.size()));
  }
  return percentile_interval(std::move(diffs));
}

Stat benchmark_difference(const BenchmarkEvidence& a, const BenchmarkEvidence& b, int resamples) {
  if (a.task != b.task || a.metric != b.metric) return {};
  const TaskType& task = find_task(a.task);
  std::vector<PairedResponses> pairs;
  std::vector<double> diffs;
  for (const auto& [seed, responses] : a.seeds) {
    auto it = b.seeds.find(seed);
    if (it == b.seeds.end()) continue;
    PairedResponses p = pair_responses(task, responses, it->second);
    if (p.a.empty()) continue;
    diffs.push_back(benchmark_value(task, a.metric, p.a) - benchmark_value(task, a.metric, p.b));
    pairs.push_back(std::move(p));
  }
  Stat s = Stat::of(diffs);
  if (pairs.empty()) return s;
  if (aligned(a, b) && !a.resampled.empty() && a.resampled.size() == b.resampled.size() &&
      a.resampled.size() == static_cast<size_t>(resamples)) {
    std::vector<double> d(a.resampled.size());
    for (size_t i = 0; i < d.size(); ++i) d[i] = a.resampled[i] - b.resampled[i];
    s.ci = percentile_interval(std::move(d));
    return s;
  }
  s.ci = paired_benchmark_interval(task, a.metric, pairs, resamples);
  return s;
}

AnswerAgreement answer_agreement(const BenchmarkEvidence& a, const BenchmarkEvidence& b) {
  AnswerAgreement out;
  if (a.task != b.task) return out;
  const TaskType& task = find_task(a.task);
  for (const auto& [seed, responses] : a.seeds) {
    auto it = b.seeds.find(seed);
    if (it == b.seeds.end()) continue;
    const PairedResponses p = pair_responses(task, responses, it->second);
    for (size_t i = 0; i < p.a.size(); ++i) out.same += p.a[i].parsed == p.b[i].parsed;
    out.paired += static_cast<int64_t>(p.a.size());
    out.seeds += p.a.empty() ? 0 : 1;
  }
  return out;
}

}  // namespace laco
