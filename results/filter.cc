#include "results/filter.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/model/placement.h"

namespace laco {
namespace {

// Columns of `runs` a filter may name; identifiers come from this list only.
// (`threads` is left to the configuration's integer: the column of that name
// holds the provenance text "intra_op=2 blas=2 ...". `layer` is resolved,
// see below.)
const std::vector<std::string> kFilterColumns = {"key",        "eval",      "status",    "preset", "method",
                                                 "method_options", "layer", "block_k",   "depth",  "ratio",
                                                 "seed",       "group_key", "git_commit", "git_dirty", "host",
                                                 "device",     "torch_version"};
const std::vector<std::string> kIntegerColumns = {"block_k", "depth", "ratio", "seed", "git_dirty"};

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

// The values `expression` takes over all runs, as text, for a warning.
std::vector<std::string> values_present(sql::Connection& db, const std::string& expression,
                                        const std::vector<sql::Value>& params) {
  auto q = db.prepare("SELECT DISTINCT " + expression + " AS v FROM runs r WHERE v IS NOT NULL ORDER BY 1 LIMIT 41");
  for (size_t i = 0; i < params.size(); ++i) q.bind(static_cast<int>(i + 1), params[i]);
  std::vector<std::string> out;
  while (q.step()) out.push_back(sql::to_text(q.value(0)));
  if (out.size() > 40) out.back() = "...";
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// layer=VALUE: the runs whose block is VALUE resolved at their own depth
// (a placement past some encoders' depth matches none of theirs).
std::pair<std::string, std::vector<sql::Value>> layer_test(sql::Connection& db, const std::string& value) {
  const Placement placement = Placement::parse(value, "--where layer");
  std::vector<std::string> tests;
  std::vector<sql::Value> params;
  auto q = db.prepare("SELECT DISTINCT depth FROM runs WHERE depth > 0 ORDER BY 1");
  while (q.step()) {
    const int64_t depth = q.int64(0);
    int64_t block = 0;
    try {
      block = placement.resolve(depth);
    } catch (const Error&) {
      continue;  // block:K beyond this depth
    }
    tests.push_back("(r.depth = ? AND r.block_k = ?)");
    params.push_back(depth);
    params.push_back(block);
  }
  return {tests.empty() ? std::string("0") : "(" + join(tests, " OR ") + ")", params};
}

}  // namespace

RunFilter run_filter(sql::Connection& db, const std::string& db_name, const std::vector<std::string>& where,
                     std::vector<std::string>* warnings) {
  std::vector<std::string> config_keys = strings(
      db, "SELECT DISTINCT j.key FROM runs, json_each(runs.config) j UNION "
          "SELECT DISTINCT j.key FROM runs, json_each(runs.extra) j WHERE runs.extra IS NOT NULL ORDER BY 1");
  config_keys.erase(std::remove_if(config_keys.begin(), config_keys.end(),
                                   [](const std::string& k) { return contains(kFilterColumns, k); }),
                    config_keys.end());
  std::vector<std::pair<std::string, std::vector<std::string>>> filters;  // key -> values, in order given
  for (const auto& item : where) {
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

  RunFilter out;
  for (const auto& [key, values] : filters) {
    const bool column = contains(kFilterColumns, key);
    const bool config = contains(config_keys, key);
    if (!column && !config && key != "sweep" && key != "grid")
      fail("--where: unknown key '{}' (allowed: {}, sweep, grid, or a configuration field: {})", key,
           join(kFilterColumns), config_keys.empty() ? std::string("none yet") : join(config_keys));
    std::vector<std::string> alternatives;
    for (const auto& v : values) {
      std::string test;
      std::vector<sql::Value> own;
      if (key == "layer") {
        std::tie(test, own) = layer_test(db, v);
      } else if (column) {
        test = "r." + key + " = ?";
        // Text columns compare as text: method=1 must match '1', not only 1.
        own.push_back(contains(kIntegerColumns, key) ? typed(v) : sql::Value(v));
      } else if (key == "sweep" || key == "grid") {
        test = "EXISTS (SELECT 1 FROM sweep_runs s WHERE s.run_key = r.key AND s." + key + " = ?)";
        own.push_back(v);
      } else {
        test = "coalesce(json_extract(r.extra, ?), json_extract(r.config, ?)) = ?";
        own = {sql::Value("$." + key), sql::Value("$." + key), typed(v)};
      }
      // A value that matches no run at all is most likely a typo: say so, with the values there are.
      if (warnings) {
        auto count = db.prepare("SELECT count(*) FROM runs r WHERE " + test);
        for (size_t i = 0; i < own.size(); ++i) count.bind(static_cast<int>(i + 1), own[i]);
        count.step();
        if (count.int64(0) == 0) {
          const auto present =
              key == "layer" ? values_present(db, "r.layer || ' (block ' || r.block_k || ' of ' || r.depth || ')'", {})
              : column       ? values_present(db, "r." + key, {})
              : config       ? values_present(db, "coalesce(json_extract(r.extra, ?), json_extract(r.config, ?))",
                                              {sql::Value("$." + key), sql::Value("$." + key)})
                             : values_present(db, "(SELECT s." + key + " FROM sweep_runs s WHERE s.run_key = r.key)", {});
          warnings->push_back(fmt::format("--where {}={}: no run has {} = {} (values in {}: {})", key, v, key, v,
                                          db_name, present.empty() ? std::string("none") : join(present)));
        }
      }
      alternatives.push_back(test);
      out.params.insert(out.params.end(), own.begin(), own.end());
    }
    out.condition += " AND (" + join(alternatives, " OR ") + ")";
  }
  return out;
}

}  // namespace laco
