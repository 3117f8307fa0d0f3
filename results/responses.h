// A benchmark run's questions in the results database (evals/response.h):
// the `responses` rows of a done run, and the `response_journal` that keeps
// the questions of a run not yet done, each committed as it finishes, so that
// `laco run --db` / `laco sweep` resume a killed benchmark run at the next
// question. One reading and one writing of a row, for the store, the
// archive of measurements, the report and the lmms-eval import.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/response.h"
#include "evals/run_request.h"
#include "results/sqlite.h"

namespace laco {

/// Inserts the run's responses as rows 0..n-1 (the caller's transaction).
void insert_responses(sql::Connection& db, const std::string& key, const std::vector<Response>& responses);
/// The run's responses in question order (none before schema version 4).
std::vector<Response> read_responses(sql::Connection& db, const std::string& key);
/// A `responses` row as results/measurements.h keeps it (column -> value, run_key left out).
Response response_from_row(const nlohmann::json& row, const std::string& where);

/// The journal of the results database. Usage: StoreJournal j(store.db()); context.journal = &j;
class StoreJournal : public ResponseJournal {
 public:
  explicit StoreJournal(sql::Connection& db) : db_(db) {}
  /// The rows this build (build_version()) committed; another build's are left out.
  std::map<int64_t, Response> committed(const std::string& key) override;
  /// INSERT OR REPLACE, one transaction: a question answered again replaces another build's row.
  void commit(const std::string& key, int64_t index, const Response& response) override;

 private:
  sql::Connection& db_;
};

/// How many questions the journal holds for `key` (any build): a run's progress as `laco query` shows it.
int64_t journal_size(sql::Connection& db, const std::string& key);

}  // namespace laco
