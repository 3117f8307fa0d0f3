#include "harness/print/printer.h"

#include <algorithm>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {

// Defined each in its own file.
std::unique_ptr<Printer> make_text_printer();
std::unique_ptr<Printer> make_csv_printer();
std::unique_ptr<Printer> make_json_printer();

const std::vector<std::string>& printer_formats() {
  static const std::vector<std::string> all = {"table", "md", "csv", "json"};
  return all;
}

void check_printer_format(const std::string& format, const std::string& where) {
  const auto& all = printer_formats();
  if (std::find(all.begin(), all.end(), format) == all.end())
    fail("{}: unknown format '{}' (allowed: {})", where, format, join(all));
}

std::unique_ptr<Printer> make_printer(const std::string& format, const std::string& where) {
  check_printer_format(format, where);
  if (format == "table") return make_text_printer();
  if (format == "md") return make_markdown_printer({});
  if (format == "csv") return make_csv_printer();
  return make_json_printer();
}

}  // namespace laco
