// The `table` format: columns aligned with spaces, a dashed rule under the
// header, for reading in a terminal. Title above, notes below.
#include <algorithm>

#include <fmt/format.h>

#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {
namespace {

class TextPrinter : public Printer {
 public:
  std::string print(const PrintTable& t) const override {
    const size_t n = t.columns.size();
    std::vector<std::vector<std::string>> text;
    std::vector<size_t> width(n);
    std::vector<bool> right(n);
    for (size_t c = 0; c < n; ++c) {
      width[c] = t.header(c).size();
      right[c] = t.right_aligned(c);
    }
    for (const auto& row : t.rows) {
      text.emplace_back();
      for (size_t c = 0; c < n; ++c) {
        text.back().push_back(format_value(row[c], t.columns[c].unit));
        width[c] = std::max(width[c], text.back().back().size());
      }
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s;
      for (size_t c = 0; c < n; ++c)
        s += (c ? "  " : "") +
             (right[c] ? fmt::format("{:>{}}", cells[c], width[c]) : fmt::format("{:<{}}", cells[c], width[c]));
      while (!s.empty() && s.back() == ' ') s.pop_back();
      return s + "\n";
    };
    std::string out = t.title.empty() ? "" : t.title + "\n\n";
    std::vector<std::string> head, rule;
    for (size_t c = 0; c < n; ++c) {
      head.push_back(t.header(c));
      rule.push_back(std::string(width[c], '-'));
    }
    out += line(head) + line(rule);
    for (const auto& row : text) out += line(row);
    if (!t.notes.empty()) out += "\n";
    for (const auto& note : t.notes) out += note + "\n";
    return out;
  }
};

}  // namespace

std::unique_ptr<Printer> make_text_printer() { return std::make_unique<TextPrinter>(); }

}  // namespace laco
