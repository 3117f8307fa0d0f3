// The `json` format: an array with one object per row, keyed by column name
// in column order; numbers stay numbers, missing cells are null.
#include <nlohmann/json.hpp>

#include "harness/print/printer.h"

namespace laco {
namespace {

class JsonPrinter : public Printer {
 public:
  std::string print(const PrintTable& t) const override {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& row : t.rows) {
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (size_t c = 0; c < t.columns.size(); ++c) {
        const auto& v = row[c];
        const auto& name = t.columns[c].name;
        if (auto* i = std::get_if<int64_t>(&v)) obj[name] = *i;
        else if (auto* d = std::get_if<double>(&v)) obj[name] = *d;
        else if (auto* s = std::get_if<std::string>(&v)) obj[name] = *s;
        else obj[name] = nullptr;
      }
      rows.push_back(std::move(obj));
    }
    return rows.dump(2) + "\n";
  }
};

}  // namespace

std::unique_ptr<Printer> make_json_printer() { return std::make_unique<JsonPrinter>(); }

}  // namespace laco
