#include "runner/power.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evals/flops.h"
#include "harness/base/json_check.h"
#include "harness/base/rank_tests.h"

namespace laco {
namespace {

// The noise the newest measurement of this preset and thread count stored, with when it was measured.
struct Calibration {
  std::map<std::string, double> noise;  // metric -> sd of the per-round log ratio
  std::string measured_at, measurement;
};

std::optional<Calibration> stored_noise(sql::Connection& db, const RunSpec& like) {
  if (std::get<int64_t>(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'runs'")) == 0) return std::nullopt;
  auto q = db.prepare(
      "SELECT extra, coalesce(finished_at, '') FROM runs WHERE status = 'done' AND eval = ? AND preset = ? AND "
      "json_extract(config, '$.threads') = ? AND json_extract(extra, '$.round_noise') IS NOT NULL "
      "ORDER BY finished_at DESC LIMIT 1");
  q.bind(1, like.eval()).bind(2, like.preset).bind(3, static_cast<int64_t>(like.threads));
  if (!q.step()) return std::nullopt;
  nlohmann::json facts;
  if (!parse_json(q.text(0), facts).empty() || !facts.is_object()) return std::nullopt;  // the report says why
  Calibration c;
  for (const auto& [metric, sd] : facts["round_noise"].items())
    if (sd.is_number() && sd.get<double>() > 0) c.noise[metric] = sd.get<double>();
  c.measured_at = q.text(1);
  c.measurement = facts.value("measurement", std::string());
  if (c.noise.empty()) return std::nullopt;
  return c;
}

// The timings whose ratios `laco run` and the report's efficiency, training
// and generation tables print: the encoder, the training step of each stage,
// throughput, prefill and the time per output token at the longest
// generation (at batch 1 and at the batch).
std::vector<std::string> compared_timings(const RunSpec& run) {
  std::vector<std::string> out = {"encoder_latency"};
  for (const auto& regime : train_regimes()) out.push_back("train_step_time" + train_regime_suffix(regime.value));
  out.push_back("throughput");
  out.push_back("prefill_latency");
  const auto& gen = run.efficiency().gen_tokens;
  if (!gen.empty()) {
    out.push_back(fmt::format("decode_tpot_{}", gen.back()));
    out.push_back(fmt::format("decode_tpot_{}_batch", gen.back()));
  }
  return out;
}

}  // namespace

std::optional<double> detectable_difference(int64_t rounds, double noise) {
  const double shift = signed_rank_detectable_shift(static_cast<int>(std::min<int64_t>(rounds, 10000)), noise);
  if (!std::isfinite(shift)) return std::nullopt;
  return std::expm1(shift);
}

std::vector<std::string> claim_power_notes(const Sweep& sweep, sql::Connection* db) {
  std::vector<std::string> out;
  if (sweep.claims.empty()) return out;
  std::map<std::string, std::optional<Calibration>> by_setup;  // preset|threads -> its calibration
  std::set<std::string> uncalibrated;
  for (const auto& claim : sweep.claims) {
    const RunSpec& a = sweep.runs[claim.a].spec;
    const std::string setup = fmt::format("{} preset `{}` at {} threads", a.eval(), a.preset, a.threads);
    auto it = by_setup.find(setup);
    if (it == by_setup.end()) it = by_setup.emplace(setup, db ? stored_noise(*db, a) : std::nullopt).first;
    if (!it->second) {
      uncalibrated.insert(setup);
      out.push_back(fmt::format("claim {}: {} rounds; the detectable difference needs this machine's noise (below)",
                                claim.label, claim.rounds));
      continue;
    }
    std::vector<std::string> parts;
    for (const auto& metric : compared_timings(a)) {
      auto sd = it->second->noise.find(metric);
      if (sd == it->second->noise.end()) continue;
      const auto d = detectable_difference(claim.rounds, sd->second);
      parts.push_back(d ? fmt::format("{} {:.1f}%", metric, 100 * *d) : fmt::format("{} (none)", metric));
    }
    out.push_back(fmt::format("claim {}: {} rounds detect, at the 5% level with 80% power, a difference of {}", claim.label,
                              claim.rounds, parts.empty() ? std::string("(no timing of its stages calibrated)")
                                                          : fmt::format("{}", fmt::join(parts, ", "))));
  }
  for (const auto& [setup, c] : by_setup)
    if (c)
      out.push_back(fmt::format("noise of {}: the per-round log ratios of measurement {} (finished {}), stored in the "
                                "database as round_noise; a shared or busier machine detects less",
                                setup, c->measurement, c->measured_at));
  for (const auto& setup : uncalibrated)
    out.push_back(fmt::format("noise of {}: not measured yet in this database; every efficiency measurement stores "
                              "it (round_noise), so run the sweep's efficiency once (or `laco sweep SPEC --evals "
                              "efficiency`) and ask --dry-run again",
                              setup));
  return out;
}

}  // namespace laco
