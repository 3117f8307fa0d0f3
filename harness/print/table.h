// The printer layer's table model: named columns that carry their unit, rows
// of typed values. Every subcommand that prints a table builds one of these
// and hands it to a printer (printer.h), so `-o table|md|csv|json` means the
// same thing everywhere and a number prints alike in every format.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace laco {

/// A cell: missing, an integer, a real number or text. (The same alternatives
/// as a SQLite value, so query results need no conversion.)
using PrintValue = std::variant<std::monostate, int64_t, double, std::string>;

enum class Align { kAuto, kLeft, kRight };

struct PrintColumn {
  PrintColumn(std::string name_, std::string unit_ = "", Align align_ = Align::kAuto)
      : name(std::move(name_)), unit(std::move(unit_)), align(align_) {}
  PrintColumn(const char* name_) : PrintColumn(std::string(name_)) {}

  std::string name;
  /// "ms", "MiB", "%", "requests/s", "tokens", ... ; "" for labels. Printed as
  /// "name (unit)" and used by format_number() to choose the digits.
  std::string unit;
  /// kAuto: right when any value of the column is a number, else left.
  Align align = Align::kAuto;
};

/// Usage:
///   PrintTable t;
///   t.columns = {{"method"}, {"throughput", "requests/s"}};
///   t.add({std::string("laco"), 3.91});
///   fmt::print("{}", make_printer("md")->print(t));
struct PrintTable {
  std::string title;               ///< printed above the table where the format has a place for it
  std::vector<PrintColumn> columns;
  std::vector<std::vector<PrintValue>> rows;
  std::vector<std::string> notes;  ///< printed below the table (table and md)

  /// Appends a row; missing trailing cells are filled with monostate. An
  /// Error when the row is longer than the columns.
  void add(std::vector<PrintValue> row);
  /// "name (unit)" or "name".
  std::string header(size_t column) const;
  /// Whether a column prints right-aligned (see Align::kAuto).
  bool right_aligned(size_t column) const;
};

}  // namespace laco
