#include "results/query.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "evals/metrics.h"
#include "harness/base/error.h"
#include "harness/base/text.h"
#include "results/filter.h"
#include "results/schema.h"

namespace laco {
namespace {


PrintTable raw_sql(sql::Connection& db, const std::string& text) {
  auto stmt = db.prepare(text);
  // Refused before it runs: on a read-only connection SQLite still creates
  // the target file of VACUUM INTO before failing, leaving an empty file.
  if (!stmt.read_only())
    fail("{}: --sql: the statement would write; nothing was run (allowed: statements that only read, such as SELECT "
         "or WITH ... SELECT)",
         db.path());
  PrintTable t;
  for (int c = 0; c < stmt.columns(); ++c) t.columns.push_back({stmt.column_name(c)});
  while (stmt.step()) {
    std::vector<PrintValue> row;
    for (int c = 0; c < stmt.columns(); ++c) row.push_back(stmt.value(c));
    t.add(std::move(row));
  }
  return t;
}

}  // namespace

PrintTable run_query(const QueryOptions& o, std::vector<std::string>* warnings) {
  sql::Connection db = open_results_db(o.db, false);
  if (!o.sql.empty()) {
    if (!o.where.empty() || !o.metrics.empty()) fail("--sql: cannot be combined with --where or --metrics");
    return raw_sql(db, o.sql);
  }

  const RunFilter filter = run_filter(db, o.db, o.where, warnings);

  // Metric columns: names checked against the database, then bound.
  std::map<std::string, std::string> units;
  {
    auto q = db.prepare("SELECT name, max(unit) FROM metrics GROUP BY name");
    while (q.step()) units[q.text(0)] = q.text(1);
  }
  std::vector<std::string> metrics;
  if (o.metrics.size() == 1 && o.metrics[0] == "all") {
    for (const auto& [name, unit] : units) metrics.push_back(name);
  } else if (o.metrics.empty()) {
    for (const auto& m : view_metrics(MetricView::kQuery))  // the registry's query view, if present
      if (units.count(m)) metrics.push_back(m);
  } else {
    for (const auto& m : o.metrics) {
      if (!units.count(m)) {
        std::vector<std::string> names;
        for (const auto& [name, unit] : units) names.push_back(name);
        fail("--metrics: no metric '{}' in {} (allowed: all, {})", m, o.db, names.empty() ? "none yet" : join(names));
      }
      metrics.push_back(m);
    }
  }

  // An imported run says so beside its evaluation: "benchmark (lmms-eval)".
  std::string select =
      "SELECT r.key, CASE WHEN coalesce(json_extract(r.config, '$.origin'), 'laco') = 'laco' THEN r.eval"
      " ELSE r.eval || ' (' || json_extract(r.config, '$.origin') || ')' END, r.status, r.preset, r.method, r.method_options, r.layer, r.block_k, r.ratio, r.seed";
  for (size_t i = 0; i < metrics.size(); ++i)
    select += ", (SELECT m.value FROM metrics m WHERE m.run_key = r.key AND m.name = ?)";
  select += " FROM runs r WHERE " + filter.condition +
            " ORDER BY r.eval, r.preset, r.method, r.method_options, r.block_k, r.ratio, r.seed, r.key";
  auto stmt = db.prepare(select);
  int p = 1;
  for (const auto& m : metrics) stmt.bind(p++, m);
  for (const auto& v : filter.params) stmt.bind(p++, v);

  PrintTable t;
  for (const char* c : {"key", "eval", "status", "preset", "method", "options", "layer", "block_k", "ratio", "seed"})
    t.columns.push_back({c});
  for (const auto& m : metrics) t.columns.push_back({m, units[m]});
  while (stmt.step()) {
    std::vector<PrintValue> row;
    for (int c = 0; c < stmt.columns(); ++c) row.push_back(stmt.value(c));
    // "{}" (no options) reads better as nothing.
    if (sql::to_text(row[5]) == "{}") row[5] = std::string();
    t.add(std::move(row));
  }
  return t;
}

}  // namespace laco
