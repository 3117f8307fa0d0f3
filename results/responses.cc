#include "results/responses.h"

#include <cmath>

#include <fmt/format.h>

#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/host.h"

namespace laco {

using nlohmann::json;

namespace {

sql::Value optional_value(const std::optional<int64_t>& v) { return v ? sql::Value(*v) : sql::Value(); }
sql::Value optional_value(const std::optional<double>& v) { return v ? sql::Value(*v) : sql::Value(); }

const char* kColumns =
    "id, category, image_id, target, response, parsed, score, fields, prompt_tokens, visual_tokens, output_tokens, "
    "ttft_ms, tpot_ms";

}  // namespace

void insert_responses(sql::Connection& db, const std::string& key, const std::vector<Response>& responses) {
  auto put = db.prepare(fmt::format("INSERT INTO responses (run_key, question, {}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                    "?, ?, ?, ?, ?, ?)",
                                    kColumns));
  for (size_t i = 0; i < responses.size(); ++i) {
    const Response& r = responses[i];
    // SQLite would keep NaN as NULL without a word: a non-finite figure is refused here.
    for (const auto& v : {std::optional<double>(r.score), r.ttft_ms, r.tpot_ms})
      if (v && !std::isfinite(*v)) fail("{}: run {}: question '{}' has a non-finite score or time", db.path(), key, r.id);
    put.bind(1, key).bind(2, static_cast<int64_t>(i)).bind(3, r.id).bind(4, r.category).bind(5, r.image_id);
    put.bind(6, json(r.target).dump()).bind(7, r.response).bind(8, r.parsed).bind(9, r.score).bind(10, r.fields.dump());
    put.bind(11, optional_value(r.prompt_tokens)).bind(12, optional_value(r.visual_tokens));
    put.bind(13, optional_value(r.output_tokens)).bind(14, optional_value(r.ttft_ms)).bind(15, optional_value(r.tpot_ms));
    put.run();
    put.reset();
  }
}

Response response_from_row(const json& row, const std::string& where) {
  // target and fields are JSON text in their columns; the rest map one to one.
  json j = row;
  for (const char* text : {"target", "fields"}) {
    auto it = j.find(text);
    if (it == j.end() || !it->is_string()) fail("{}: field {} is missing or not text", where, text);
    json parsed = json::parse(it->get<std::string>(), nullptr, false);
    if (parsed.is_discarded()) fail("{}: field {} is not JSON", where, text);
    *it = std::move(parsed);
  }
  for (const char* optional : {"prompt_tokens", "visual_tokens", "output_tokens", "ttft_ms", "tpot_ms"})
    if (j.contains(optional) && j[optional].is_null()) j.erase(optional);
  return response_from_json(j, where);
}

std::vector<Response> read_responses(sql::Connection& db, const std::string& key) {
  std::vector<Response> out;
  if (!sql::table_exists(db, "responses")) return out;
  auto q = db.prepare(fmt::format("SELECT {} FROM responses WHERE run_key = ? ORDER BY question", kColumns));
  q.bind(1, key);
  while (q.step()) {
    json row = json::object();
    for (int c = 0; c < q.columns(); ++c) row[q.column_name(c)] = sql::to_json(q.value(c));
    out.push_back(response_from_row(row, fmt::format("{}: run {}: responses", db.path(), key)));
  }
  return out;
}

std::map<int64_t, Response> StoreJournal::committed(const std::string& key) {
  std::map<int64_t, Response> out;
  auto q = db_.prepare("SELECT question, content FROM response_journal WHERE run_key = ? AND build = ? ORDER BY question");
  q.bind(1, key).bind(2, build_version());
  while (q.step()) {
    const json j = json::parse(q.text(1), nullptr, false);
    out.emplace(q.int64(0), response_from_json(j, fmt::format("{}: response_journal of run {}, question {}",
                                                              db_.path(), key, q.int64(0))));
  }
  return out;
}

void StoreJournal::commit(const std::string& key, int64_t index, const Response& response) {
  sql::Transaction t(db_);
  db_.prepare("INSERT OR REPLACE INTO response_journal (run_key, question, build, content, written_at) "
              "VALUES (?, ?, ?, ?, ?)")
      .bind(1, key)
      .bind(2, index)
      .bind(3, build_version())
      .bind(4, to_json(response).dump())
      .bind(5, utc_now())
      .run();
  t.commit();
}

int64_t journal_size(sql::Connection& db, const std::string& key) {
  if (!sql::table_exists(db, "response_journal")) return 0;
  auto q = db.prepare("SELECT count(*) FROM response_journal WHERE run_key = ?");
  q.bind(1, key).step();
  return q.int64(0);
}

}  // namespace laco
