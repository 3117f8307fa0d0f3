// The `csv` format: RFC 4180, a header line of column names (units go in
// the name as "name (unit)"), numbers at full precision, missing cells empty.
// Title and notes are not data and are left out.
#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {

std::string csv_escape(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char ch : text) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

namespace {

class CsvPrinter : public Printer {
 public:
  std::string print(const PrintTable& t) const override {
    std::string out;
    for (size_t c = 0; c < t.columns.size(); ++c) out += (c ? "," : "") + csv_escape(t.columns[c].name);
    out += "\n";
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < row.size(); ++c) out += (c ? "," : "") + csv_escape(exact_value(row[c]));
      out += "\n";
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Printer> make_csv_printer() { return std::make_unique<CsvPrinter>(); }

}  // namespace laco
