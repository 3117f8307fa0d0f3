#include "harness/print/table.h"

#include <fmt/format.h>

#include "harness/base/error.h"

namespace laco {

void PrintTable::add(std::vector<PrintValue> row) {
  if (row.size() > columns.size())
    fail("table '{}': a row of {} cells for {} columns", title, row.size(), columns.size());
  row.resize(columns.size());
  rows.push_back(std::move(row));
}

std::string PrintTable::header(size_t c) const {
  const auto& col = columns.at(c);
  return col.unit.empty() ? col.name : fmt::format("{} ({})", col.name, col.unit);
}

bool PrintTable::right_aligned(size_t c) const {
  const auto& col = columns.at(c);
  if (col.align != Align::kAuto) return col.align == Align::kRight;
  for (const auto& row : rows)
    if (std::holds_alternative<int64_t>(row[c]) || std::holds_alternative<double>(row[c])) return true;
  return false;
}

}  // namespace laco
