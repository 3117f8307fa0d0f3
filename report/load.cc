#include "report/load.h"

#include <cmath>
#include <map>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "results/filter.h"
#include "results/measurements.h"
#include "results/responses.h"
#include "results/schema.h"

namespace laco {

std::vector<RunRecord> load_done_runs(const std::string& db_path, const std::vector<std::string>& where,
                                      std::vector<std::string>* warnings) {
  sql::Connection db = open_results_db(db_path, false);
  const RunFilter filter = run_filter(db, db_path, where, warnings);
  std::vector<RunRecord> runs;
  std::map<std::string, size_t> at;
  // group_key first, then the measurement columns (read_provenance reads those).
  auto q = db.prepare("SELECT key, eval, config, group_key, " + join(measurement_columns()) +
                      " FROM runs r WHERE status = 'done' AND " + filter.condition + " ORDER BY key");
  for (size_t i = 0; i < filter.params.size(); ++i) q.bind(static_cast<int>(i + 1), filter.params[i]);
  while (q.step()) {
    RunRecord r;
    const std::string key = q.text(0);
    const std::string where = fmt::format("{}: run {}", db_path, key);
    nlohmann::json config;
    const std::string problem = parse_json(q.text(2), config);
    if (!problem.empty()) fail("{}: config is not JSON ({})", where, problem);
    r.spec = run_spec_from_json(q.text(1), config, where);
    if (!q.is_null(3)) r.group_key = q.text(3);
    StoredMeasurement current;
    for (int c = 4; c < q.columns(); ++c) current.columns.push_back(q.value(c));
    read_provenance(current, r, where);
    at[key] = runs.size();
    runs.push_back(std::move(r));
  }
  auto m = db.prepare(
      "SELECT m.run_key, m.name, m.value, m.unit FROM metrics m JOIN runs r ON r.key = m.run_key "
      "WHERE r.status = 'done' AND m.value IS NOT NULL ORDER BY m.run_key, m.name");
  while (m.step()) {
    auto it = at.find(m.text(0));
    if (it != at.end()) runs[it->second].add(m.text(1), m.real(2), m.text(3));
  }
  // Benchmark runs' questions (schema version 4 on; read_responses finds none before).
  for (const auto& [key, i] : at)
    if (runs[i].spec.is_benchmark()) runs[i].responses = read_responses(db, key);
  // Fine-tunes' curves (loss, grad_norm, lr_factor per optimizer step): their tables' loss plots. A NULL
  // value (a non-finite one, as stored) is NaN, as a measurement's record reads it.
  auto c = db.prepare(
      "SELECT s.run_key, s.name, s.step, s.value FROM series s JOIN runs r ON r.key = s.run_key "
      "WHERE r.status = 'done' AND r.eval = 'finetune' ORDER BY s.run_key, s.name, s.step");
  while (c.step()) {
    auto it = at.find(c.text(0));
    if (it != at.end())
      runs[it->second].series[c.text(1)].emplace_back(c.int64(2), c.is_null(3) ? std::nan("") : c.real(3));
  }
  // The raw data (schema version 2 on): timing samples and test predictions.
  if (std::get<int64_t>(db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'samples'")) == 0) return runs;
  auto s = db.prepare("SELECT run_key, metric, value FROM samples ORDER BY run_key, metric, rep");
  while (s.step()) {
    auto it = at.find(s.text(0));
    if (it != at.end()) runs[it->second].samples[s.text(1)].push_back(s.real(2));
  }
  auto p = db.prepare("SELECT run_key, id, family, answer, predicted, correct FROM predictions ORDER BY run_key, question");
  while (p.step()) {
    auto it = at.find(p.text(0));
    if (it != at.end())
      runs[it->second].predictions.push_back({p.text(1), p.text(2), p.text(3), p.text(4), p.int64(5) != 0});
  }
  return runs;
}

}  // namespace laco
