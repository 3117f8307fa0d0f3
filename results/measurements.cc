#include "results/measurements.h"

#include <cmath>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"
#include "results/responses.h"
#include "results/schema.h"

namespace laco {
namespace {

// The run's rows of one table, run_key left out, in primary-key order.
nlohmann::json table_rows(sql::Connection& db, const std::string& table, const std::string& key) {
  std::vector<std::string> names, order;
  {
    auto info = db.prepare(fmt::format("SELECT name, pk FROM pragma_table_info('{}') ORDER BY pk, cid", table));
    while (info.step()) {
      if (info.text(0) == "run_key") continue;
      names.push_back(info.text(0));
      if (info.int64(1) > 0) order.push_back(info.text(0));
    }
  }
  nlohmann::json rows = nlohmann::json::array();
  auto q = db.prepare(fmt::format("SELECT {} FROM {} WHERE run_key = ? ORDER BY {}", join(names), table, join(order)));
  q.bind(1, key);
  while (q.step()) {
    nlohmann::json row = nlohmann::json::object();
    for (size_t c = 0; c < names.size(); ++c) row[names[c]] = sql::to_json(q.value(static_cast<int>(c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

const nlohmann::json& rows_of(const nlohmann::json& content, const std::string& table) {
  static const nlohmann::json none = nlohmann::json::array();
  auto it = content.find(table);
  return it == content.end() ? none : *it;
}

std::string text_field(const nlohmann::json& row, const char* name, const std::string& where) {
  auto it = row.find(name);
  if (it == row.end() || !it->is_string()) fail("{}: field {} is missing or not text", where, name);
  return it->get<std::string>();
}

double number_field(const nlohmann::json& row, const char* name, const std::string& where) {
  auto it = row.find(name);
  if (it == row.end() || !it->is_number()) fail("{}: field {} is missing or not a number", where, name);
  return it->get<double>();
}

}  // namespace

const sql::Value& StoredMeasurement::column(const std::string& name) const {
  const auto& names = measurement_columns();
  for (size_t i = 0; i < names.size() && i < columns.size(); ++i)
    if (names[i] == name) return columns[i];
  fail("measurement: no column {} (allowed: {})", name, join(names));
}

std::pair<std::string, std::string> StoredMeasurement::when() const {
  return {sql::to_text(column("finished_at")), sql::to_text(column("started_at"))};
}

bool has_measurement_archive(sql::Connection& db) { return sql::table_exists(db, "measurements"); }

StoredMeasurement current_measurement(sql::Connection& db, const std::string& key) {
  StoredMeasurement m;
  auto q = db.prepare(fmt::format("SELECT {} FROM runs WHERE key = ?", join(measurement_columns())));
  q.bind(1, key);
  if (!q.step()) fail("{}: run {} is not in the database", db.path(), key);
  for (int c = 0; c < q.columns(); ++c) m.columns.push_back(q.value(c));
  nlohmann::json content = nlohmann::json::object();
  for (const auto& table : run_child_tables())
    if (sql::table_exists(db, table)) content[table] = table_rows(db, table, key);
  m.content = content.dump();
  return m;
}

std::vector<StoredMeasurement> archived_measurements(sql::Connection& db, const std::string& key) {
  std::vector<StoredMeasurement> out;
  if (!has_measurement_archive(db)) return out;
  auto q = db.prepare(fmt::format("SELECT seq, archived_at, content, {} FROM measurements WHERE run_key = ? ORDER BY seq",
                                  join(measurement_columns())));
  q.bind(1, key);
  while (q.step()) {
    StoredMeasurement m;
    m.seq = q.int64(0);
    m.archived_at = q.text(1);
    m.content = q.text(2);
    for (int c = 3; c < q.columns(); ++c) m.columns.push_back(q.value(c));
    out.push_back(std::move(m));
  }
  return out;
}

int64_t archive_measurement(sql::Connection& db, const std::string& key, const StoredMeasurement& m) {
  if (m.columns.size() != measurement_columns().size())
    fail("{}: run {}: a measurement with {} columns (expected {})", db.path(), key, m.columns.size(),
         measurement_columns().size());
  auto next = db.prepare("SELECT coalesce(max(seq), 0) + 1 FROM measurements WHERE run_key = ?");
  next.bind(1, key).step();
  const int64_t seq = next.int64(0);
  std::vector<std::string> marks(measurement_columns().size(), "?");
  auto put = db.prepare(fmt::format("INSERT INTO measurements (run_key, seq, archived_at, content, {}) VALUES (?, ?, ?, ?, {})",
                                    join(measurement_columns()), join(marks)));
  put.bind(1, key).bind(2, seq).bind(3, utc_now()).bind(4, m.content);
  for (size_t c = 0; c < m.columns.size(); ++c) put.bind(static_cast<int>(c + 5), m.columns[c]);
  put.run();
  return seq;
}

void read_provenance(const StoredMeasurement& m, RunRecord& r, const std::string& where) {
  const sql::Value& extra = m.column("extra");
  if (std::holds_alternative<std::string>(extra)) {
    const std::string problem = parse_json(std::get<std::string>(extra), r.facts);
    if (!problem.empty()) fail("{}: extra is not JSON ({})", where, problem);
  }
  auto& p = r.provenance;
  p.git_commit = sql::to_text(m.column("git_commit"));
  if (auto* dirty = std::get_if<int64_t>(&m.column("git_dirty"))) p.git_dirty = *dirty != 0;
  p.host = sql::to_text(m.column("host"));
  p.device = sql::to_text(m.column("device"));
  p.torch_version = sql::to_text(m.column("torch_version"));
  p.threads = sql::to_text(m.column("threads"));
  p.attention = sql::to_text(m.column("attention"));
  p.started_at = sql::to_text(m.column("started_at"));
  p.finished_at = sql::to_text(m.column("finished_at"));
  if (auto* w = std::get_if<double>(&m.column("wall_seconds"))) p.wall_seconds = *w;
}

RunRecord measurement_record(const StoredMeasurement& m, const RunSpec& spec, const std::string& where) {
  RunRecord r;
  r.spec = spec;
  nlohmann::json content;
  std::string problem = parse_json(m.content, content);
  if (problem.empty() && !content.is_object()) problem = "not an object";
  if (!problem.empty()) fail("{}: content is not a JSON object ({})", where, problem);
  read_provenance(m, r, where);

  const std::string in = where + ": content";
  for (const auto& row : rows_of(content, "metrics")) {
    auto v = row.find("value");
    if (v == row.end() || v->is_null()) continue;  // as a current run's NULL metric: absent
    r.add(text_field(row, "name", in + " metrics"), number_field(row, "value", in + " metrics"),
          text_field(row, "unit", in + " metrics"));
  }
  for (const auto& row : rows_of(content, "series")) {
    auto v = row.find("value");
    const double value = v == row.end() || v->is_null() ? std::nan("") : number_field(row, "value", in + " series");
    r.series[text_field(row, "name", in + " series")].emplace_back(
        static_cast<int64_t>(number_field(row, "step", in + " series")), value);
  }
  for (const auto& row : rows_of(content, "samples"))  // stored in (metric, rep) order
    r.samples[text_field(row, "metric", in + " samples")].push_back(number_field(row, "value", in + " samples"));
  for (const auto& row : rows_of(content, "predictions"))  // in question order
    r.predictions.push_back({text_field(row, "id", in + " predictions"), text_field(row, "family", in + " predictions"),
                             text_field(row, "answer", in + " predictions"),
                             text_field(row, "predicted", in + " predictions"),
                             number_field(row, "correct", in + " predictions") != 0});
  for (const auto& row : rows_of(content, "responses"))  // in question order
    r.responses.push_back(response_from_row(row, in + " responses"));
  return r;
}

}  // namespace laco
