#include "results/result_table.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/error.h"
#include "harness/text.h"

namespace laco {
namespace {

std::string readable(const sql::Value& v) {
  if (auto* d = std::get_if<double>(&v)) {
    const double a = std::fabs(*d);
    if (!std::isfinite(*d)) return fmt::format("{}", *d);
    if (a != 0 && (a >= 1e7 || a < 1e-3)) return fmt::format("{:.4g}", *d);
    if (a >= 100 || std::floor(*d) == *d) return fmt::format("{:.1f}", *d);
    return fmt::format("{:.4g}", *d);
  }
  return sql::to_text(v);
}

bool numeric(const sql::Value& v) { return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v); }

std::string header(const ResultTable& t, size_t c) {
  const std::string& unit = c < t.units.size() ? t.units[c] : std::string();
  return unit.empty() ? t.columns[c] : fmt::format("{} ({})", t.columns[c], unit);
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

}  // namespace

const std::vector<std::string>& result_formats() {
  static const std::vector<std::string> all = {"table", "md", "csv", "json"};
  return all;
}

std::string format_result_table(const ResultTable& t, const std::string& format) {
  const size_t n = t.columns.size();
  if (format == "json") {
    // Ordered: the columns keep the order they were asked for.
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& row : t.rows) {
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (size_t c = 0; c < n; ++c) {
        const auto& v = row[c];
        if (auto* i = std::get_if<int64_t>(&v)) obj[t.columns[c]] = *i;
        else if (auto* d = std::get_if<double>(&v)) obj[t.columns[c]] = *d;
        else if (auto* s = std::get_if<std::string>(&v)) obj[t.columns[c]] = *s;
        else obj[t.columns[c]] = nullptr;
      }
      rows.push_back(obj);
    }
    return rows.dump(2) + "\n";
  }
  if (format == "csv") {
    std::vector<std::string> cells;
    for (const auto& c : t.columns) cells.push_back(csv_cell(c));
    std::string out = join(cells, ",") + "\n";
    for (const auto& row : t.rows) {
      cells.clear();
      for (const auto& v : row) cells.push_back(csv_cell(sql::to_text(v)));
      out += join(cells, ",") + "\n";
    }
    return out;
  }
  if (format != "table" && format != "md")
    fail("--format: unknown format '{}' (allowed: {})", format, join(result_formats()));

  const bool md = format == "md";
  std::vector<std::vector<std::string>> text(t.rows.size(), std::vector<std::string>(n));
  std::vector<bool> right(n, false);
  std::vector<size_t> width(n);
  for (size_t c = 0; c < n; ++c) {
    width[c] = (md ? md_cell(header(t, c)) : header(t, c)).size();
    for (size_t r = 0; r < t.rows.size(); ++r) {
      text[r][c] = md ? md_cell(readable(t.rows[r][c])) : readable(t.rows[r][c]);
      right[c] = right[c] || numeric(t.rows[r][c]);
      width[c] = std::max(width[c], text[r][c].size());
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = md ? "|" : "";
    for (size_t c = 0; c < n; ++c) {
      const std::string cell = right[c] ? fmt::format("{:>{}}", cells[c], width[c]) : fmt::format("{:<{}}", cells[c], width[c]);
      s += md ? " " + cell + " |" : (c ? "  " : "") + cell;
    }
    while (!md && !s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::vector<std::string> head;
  for (size_t c = 0; c < n; ++c) head.push_back(md ? md_cell(header(t, c)) : header(t, c));
  std::string out = line(head);
  if (md) {
    out += "|";
    for (size_t c = 0; c < n; ++c) out += right[c] ? std::string(width[c] + 1, '-') + ":|" : std::string(width[c] + 2, '-') + "|";
    out += "\n";
  } else {
    std::vector<std::string> dashes;
    for (size_t c = 0; c < n; ++c) dashes.push_back(std::string(width[c], '-'));
    out += line(dashes);
  }
  for (const auto& row : text) out += line(row);
  return out;
}

}  // namespace laco
