// The `md` format: a GitHub Markdown table ("### title" above, "- note"
// lines below). Padded for the terminal; unpadded in the report's files.
#include <algorithm>

#include <fmt/format.h>

#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char ch : text) out += ch == '|' ? std::string("\\|") : ch == '\n' ? std::string(" ") : std::string(1, ch);
  return out;
}

namespace {

class MarkdownPrinter : public Printer {
 public:
  explicit MarkdownPrinter(MarkdownStyle style) : style_(style) {}

  std::string print(const PrintTable& t) const override {
    const size_t n = t.columns.size();
    std::vector<std::string> head;
    std::vector<std::vector<std::string>> text;
    std::vector<size_t> width(n, 3);
    std::vector<bool> right(n);
    for (size_t c = 0; c < n; ++c) {
      head.push_back(markdown_escape(t.header(c)));
      right[c] = t.right_aligned(c);
      width[c] = std::max(width[c], head[c].size());
    }
    for (const auto& row : t.rows) {
      text.emplace_back();
      for (size_t c = 0; c < n; ++c) {
        text.back().push_back(markdown_escape(format_value(row[c], t.columns[c].unit)));
        width[c] = std::max(width[c], text.back().back().size());
      }
    }
    auto cell = [&](const std::string& s, size_t c) {
      if (!style_.pad) return s;
      return right[c] ? fmt::format("{:>{}}", s, width[c]) : fmt::format("{:<{}}", s, width[c]);
    };
    auto line = [&](const std::vector<std::string>& cells) {
      std::string s = "|";
      for (size_t c = 0; c < n; ++c) s += " " + cell(cells[c], c) + " |";
      return s + "\n";
    };
    std::string out = t.title.empty() ? "" : "### " + t.title + "\n\n";
    out += line(head) + "|";
    for (size_t c = 0; c < n; ++c) {
      if (style_.pad) out += right[c] ? std::string(width[c] + 1, '-') + ":|" : std::string(width[c] + 2, '-') + "|";
      else out += right[c] ? " ---: |" : " --- |";
    }
    out += "\n";
    for (const auto& row : text) out += line(row);
    if (!t.notes.empty()) out += "\n";
    for (const auto& note : t.notes) out += "- " + note + "\n";
    return out;
  }

 private:
  MarkdownStyle style_;
};

}  // namespace

std::unique_ptr<Printer> make_markdown_printer(MarkdownStyle style) { return std::make_unique<MarkdownPrinter>(style); }

}  // namespace laco
