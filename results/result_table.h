// Rows read from the results database, printed as an aligned table,
// Markdown, CSV or JSON (`laco query --format`).
#pragma once

#include <string>
#include <vector>

#include "results/sqlite.h"

namespace laco {

struct ResultTable {
  std::vector<std::string> columns;
  std::vector<std::string> units;  ///< per column, "" for none; shown as "name (unit)" in table and md
  std::vector<std::vector<sql::Value>> rows;
};

/// The allowed formats, for messages: table, md, csv, json.
const std::vector<std::string>& result_formats();

/// `format` is one of result_formats(). Numbers keep full precision in csv and
/// json; table and md round them for reading.
std::string format_result_table(const ResultTable& table, const std::string& format);

}  // namespace laco
