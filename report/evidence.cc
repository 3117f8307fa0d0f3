#include "report/evidence.h"

#include <cmath>

#include "report/benchmark_stats.h"

namespace laco {

Stat Stat::of(const std::vector<double>& values) {
  Stat s;
  s.n = static_cast<int>(values.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double ss = 0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

Difference Evidence::test(const Evidence& other) const {
  Difference d;
  if (!samples.empty() && !other.samples.empty()) {
    const RatioEstimate r = ratio_to(other);
    d.test = r.paired ? Difference::Test::kSignedRank : Difference::Test::kMannWhitney;
    d.p = r.p;
    d.smallest_p = r.smallest_p;
    d.n = r.n;
    d.significant = d.p < 0.05;
    return d;
  }
  if (benchmark && other.benchmark) {
    const Stat diff = benchmark_difference(*benchmark, *other.benchmark);
    if (diff.missing() || !diff.ci) return d;  // no seed and question in common: nothing to pair
    d.test = Difference::Test::kPairedBootstrap;
    d.interval = *diff.ci;
    d.significant = d.interval.lo > 0 || d.interval.hi < 0;
    return d;
  }
  if (answers.empty() || other.answers.empty()) return d;
  std::vector<PairedSeed> paired;
  for (const auto& [seed, strata] : answers) {
    auto it = other.answers.find(seed);
    if (it == other.answers.end()) continue;
    PairedSeed p;
    for (const auto& [stratum, questions] : strata) {
      auto st = it->second.find(stratum);
      if (st == it->second.end()) continue;
      std::vector<bool> a, b;
      for (const auto& [id, correct] : questions) {
        auto q = st->second.find(id);
        if (q == st->second.end()) continue;
        a.push_back(correct);
        b.push_back(q->second);
      }
      if (a.empty()) continue;
      p.a.push_back(std::move(a));
      p.b.push_back(std::move(b));
    }
    if (!p.a.empty()) paired.push_back(std::move(p));
  }
  if (paired.empty()) return d;  // no question in common: nothing to pair
  d.test = Difference::Test::kPairedBootstrap;
  d.interval = paired_difference_interval(paired, kind);
  d.significant = d.interval.lo > 0 || d.interval.hi < 0;
  return d;
}

std::shared_ptr<const Evidence> accuracy_evidence(const std::map<uint64_t, std::vector<Prediction>>& predictions,
                                                  const std::string& metric) {
  if (metric.rfind("acc_", 0) != 0 || predictions.empty()) return nullptr;
  const std::string family = metric.substr(4);
  auto evidence = std::make_shared<Evidence>();
  evidence->kind = family == "mean" ? AccuracyKind::kMeanOfStrata : AccuracyKind::kPooled;
  for (const auto& [seed, questions] : predictions)
    for (const auto& q : questions) {
      const std::string f = q.family.empty() ? "unlabelled" : q.family;  // as evaluate_vqa names them
      if (family == "mean" || family == "overall" || family == f) evidence->answers[seed][f][q.id] = q.correct;
    }
  if (evidence->answers.size() != predictions.size()) return nullptr;  // a family some seed lacks
  return evidence;
}

Stat accuracy_stat(const std::shared_ptr<const Evidence>& evidence) {
  std::vector<SeedAnswers> seeds;
  std::vector<double> per_seed;
  for (const auto& [seed, strata] : evidence->answers) {
    SeedAnswers answers;
    for (const auto& [f, questions] : strata) {
      answers.emplace_back();
      for (const auto& [id, correct] : questions) answers.back().push_back(correct);
    }
    per_seed.push_back(accuracy_percent(answers, evidence->kind));
    seeds.push_back(std::move(answers));
  }
  Stat s = Stat::of(per_seed);
  s.ci = accuracy_interval(seeds, evidence->kind);
  s.evidence = evidence;
  return s;
}

std::pair<std::vector<double>, std::vector<double>> Evidence::paired_rounds(const Evidence& other) const {
  std::pair<std::vector<double>, std::vector<double>> out;
  for (const auto& [id, mine] : rounds) {
    auto it = other.rounds.find(id);
    if (it == other.rounds.end()) continue;
    // A run with fewer repetitions than its group's most took part in the first rounds only.
    for (size_t i = 0; i < mine.size() && i < it->second.size(); ++i) {
      out.first.push_back(mine[i]);
      out.second.push_back(it->second[i]);
    }
  }
  return out;
}

RatioEstimate Evidence::ratio_to(const Evidence& other) const {
  const auto [a, b] = paired_rounds(other);
  if (!a.empty()) return paired_ratio(a, b);
  return unpaired_ratio(samples, other.samples);
}

Stat timing_stat(std::vector<double> samples, std::map<std::string, std::vector<double>> rounds) {
  auto evidence = std::make_shared<Evidence>();
  evidence->samples = std::move(samples);
  evidence->rounds = std::move(rounds);
  Stat s;
  s.n = 1;
  s.mean = median(evidence->samples);
  if (evidence->samples.size() > 1) s.ci = median_interval(evidence->samples);
  s.evidence = evidence;
  return s;
}

Stat mean_t_stat(const std::vector<double>& per_seed) {
  Stat s = Stat::of(per_seed);
  if (s.n >= 2) s.ci = t_interval(per_seed);
  return s;
}

}  // namespace laco
