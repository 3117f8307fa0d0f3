#include "results/query.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/text.h"
#include "results/schema.h"

namespace laco {
namespace {

// Columns of `runs` a filter may name; identifiers come from this list only.
// (`threads` is left to the configuration's integer: the column of that name
// holds the provenance text "intra_op=2 blas=2 ...".)
const std::vector<std::string> kFilterColumns = {"key",        "eval",      "status",    "preset", "method",
                                                 "method_options", "layer", "block_k",   "depth",  "ratio",
                                                 "seed",       "group_key", "git_commit", "git_dirty", "host",
                                                 "device",     "torch_version"};

// What the listing shows when --metrics is not given, in this order, if present.
const std::vector<std::string> kDefaultMetrics = {
    "acc_color", "acc_shape", "acc_count", "acc_spatial", "acc_text", "acc_overall", "acc_mean",
    "visual_tokens", "encoder_latency", "prefill_latency", "throughput", "train_step_time", "train_peak_tensor"};

// "2" binds as an integer, "0.25" as a real, "true"/"false" as 1/0 (JSON
// booleans read back as integers), anything else as text.
sql::Value typed(const std::string& text) {
  if (auto i = parse_int(text)) return *i;
  if (auto d = parse_double(text)) return *d;
  if (text == "true") return int64_t{1};
  if (text == "false") return int64_t{0};
  return text;
}

std::vector<std::string> strings(sql::Connection& db, const std::string& query) {
  std::vector<std::string> out;
  auto q = db.prepare(query);
  while (q.step()) out.push_back(q.text(0));
  return out;
}

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

// The values `test` (with `?` for the value) can meet, as text, for a warning.
std::vector<std::string> values_present(sql::Connection& db, const std::string& expression,
                                        const std::vector<sql::Value>& params) {
  auto q = db.prepare("SELECT DISTINCT " + expression + " AS v FROM runs r WHERE v IS NOT NULL ORDER BY 1 LIMIT 41");
  for (size_t i = 0; i < params.size(); ++i) q.bind(static_cast<int>(i + 1), params[i]);
  std::vector<std::string> out;
  while (q.step()) out.push_back(sql::to_text(q.value(0)));
  if (out.size() > 40) out.back() = "...";
  return out;
}

}  // namespace

PrintTable run_query(const QueryOptions& o, std::vector<std::string>* warnings) {
  sql::Connection db = open_results_db(o.db, false);
  if (!o.sql.empty()) {
    if (!o.where.empty() || !o.metrics.empty()) fail("--sql: cannot be combined with --where or --metrics");
    return raw_sql(db, o.sql);
  }

  // Filters: one (a OR b ...) clause per key, values always bound.
  std::vector<std::string> config_keys = strings(
      db, "SELECT DISTINCT j.key FROM runs, json_each(runs.config) j UNION "
          "SELECT DISTINCT j.key FROM runs, json_each(runs.extra) j WHERE runs.extra IS NOT NULL ORDER BY 1");
  config_keys.erase(std::remove_if(config_keys.begin(), config_keys.end(),
                                   [](const std::string& k) {
                                     return std::find(kFilterColumns.begin(), kFilterColumns.end(), k) !=
                                            kFilterColumns.end();
                                   }),
                    config_keys.end());
  std::vector<std::pair<std::string, std::vector<std::string>>> filters;  // key -> values, in order given
  for (const auto& item : o.where) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) fail("--where: '{}' must be KEY=VALUE (e.g. method=laco)", item);
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    auto it = std::find_if(filters.begin(), filters.end(), [&](const auto& f) { return f.first == key; });
    if (it == filters.end()) {
      filters.push_back({key, {value}});
    } else {
      it->second.push_back(value);
    }
  }
  std::string where = "1";
  std::vector<sql::Value> params;
  for (const auto& [key, values] : filters) {
    const bool column = std::find(kFilterColumns.begin(), kFilterColumns.end(), key) != kFilterColumns.end();
    const bool config = std::find(config_keys.begin(), config_keys.end(), key) != config_keys.end();
    std::string test;
    if (column) {
      test = "r." + key + " = ?";
    } else if (key == "sweep" || key == "grid") {
      test = "EXISTS (SELECT 1 FROM sweep_runs s WHERE s.run_key = r.key AND s." + key + " = ?)";
    } else if (config) {
      test = "coalesce(json_extract(r.extra, ?), json_extract(r.config, ?)) = ?";
    } else {
      fail("--where: unknown key '{}' (allowed: {}, sweep, grid, or a configuration field: {})", key,
           join(kFilterColumns), config_keys.empty() ? std::string("none yet") : join(config_keys));
    }
    std::vector<std::string> alternatives;
    for (const auto& v : values) {
      alternatives.push_back(test);
      std::vector<sql::Value> own;
      if (config && !column) {
        own.push_back("$." + key);
        own.push_back("$." + key);
      }
      // Text columns compare as text: layer=1 must match '1', not only 1.
      own.push_back(column && key != "block_k" && key != "depth" && key != "ratio" && key != "seed" &&
                            key != "git_dirty"
                        ? sql::Value(v)
                        : typed(v));
      // A value that matches no run at all is most likely a typo: say so, with the values there are.
      if (warnings) {
        auto count = db.prepare("SELECT count(*) FROM runs r WHERE " + test);
        for (size_t i = 0; i < own.size(); ++i) count.bind(static_cast<int>(i + 1), own[i]);
        count.step();
        if (count.int64(0) == 0) {
          const auto present =
              column   ? values_present(db, "r." + key, {})
              : config ? values_present(db, "coalesce(json_extract(r.extra, ?), json_extract(r.config, ?))",
                                        {sql::Value("$." + key), sql::Value("$." + key)})
                       : values_present(db, "(SELECT s." + key + " FROM sweep_runs s WHERE s.run_key = r.key)", {});
          warnings->push_back(fmt::format("--where {}={}: no run has {} = {} (values in {}: {})", key, v, key, v, o.db,
                                          present.empty() ? std::string("none") : join(present)));
        }
      }
      params.insert(params.end(), own.begin(), own.end());
    }
    where += " AND (" + join(alternatives, " OR ") + ")";
  }

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
    for (const auto& m : kDefaultMetrics)
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

  std::string select =
      "SELECT r.key, r.eval, r.status, r.preset, r.method, r.method_options, r.layer, r.block_k, r.ratio, r.seed";
  for (size_t i = 0; i < metrics.size(); ++i)
    select += ", (SELECT m.value FROM metrics m WHERE m.run_key = r.key AND m.name = ?)";
  select += " FROM runs r WHERE " + where +
            " ORDER BY r.eval, r.preset, r.method, r.method_options, r.block_k, r.ratio, r.seed, r.key";
  auto stmt = db.prepare(select);
  int p = 1;
  for (const auto& m : metrics) stmt.bind(p++, m);
  for (const auto& v : params) stmt.bind(p++, v);

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
