// A report table: typed cells (a label, or a statistic over seeds, or a
// relative change) that every renderer (Markdown, LaTeX, CSV, HTML) prints
// from the same values, so the formats cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/print/table.h"

namespace laco {

/// Mean and sample standard deviation of a metric over seeds; n == 0 is a missing run.
struct Stat {
  int n = 0;
  double mean = 0;
  double std = 0;  ///< 0 when n < 2

  static Stat of(const std::vector<double>& values);
  bool missing() const { return n == 0; }
};

enum class CellKind { kLabel, kStat, kChange };

struct Cell {
  CellKind kind = CellKind::kLabel;
  std::string label;
  Stat stat;       ///< kStat, and kChange (mean is the change in %)
  bool bold = false;

  static Cell text(std::string s);
  static Cell value(const Stat& s);
  /// A relative change in percent, printed with its sign ("+12.3%").
  static Cell change(std::optional<double> percent);
};

/// Better is higher, lower, or not ranked (no bold).
enum class Better { kNone, kHigher, kLower };

struct Column {
  std::string header;
  std::string unit;  ///< shown under the header; "" for labels
  int decimals = 1;
  Better better = Better::kNone;
  bool spread = true;  ///< print "± std" (off for quantities fixed by the configuration)
};

struct Table {
  std::string name;     ///< file stem: methods, placement, ratio, efficiency
  std::string title;
  std::vector<std::string> notes;  ///< preset, ratio, commits, how to read it
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
  std::vector<bool> reference;  ///< per row: the uncompressed ceiling, never bold
  std::vector<size_t> rules;    ///< a horizontal rule before these rows

  void add_row(std::vector<Cell> cells, bool is_reference = false);
  /// Bolds the best mean of every ranked column among non-reference rows (ties: all).
  void mark_best();
};

/// "71.3 ± 2.1", "71.3" (one seed), "-" (missing); changes as "+12.3%".
std::string format_cell(const Cell& cell, const Column& column);

/// The table as the printer layer's model: cells as printed ("71.3 ± 2.1"), no bold.
PrintTable print_table(const Table& table);
/// Markdown through the printer layer's md printer, unpadded, best values in bold.
std::string render_markdown(const Table& table);
/// A booktabs tabular inside a table environment; compiles when wrapped in a
/// document with \usepackage{booktabs}.
std::string render_latex(const Table& table);
/// Tidy: one line per (table, row, column) cell with mean, std, n, unit, bold.
std::string render_csv_rows(const Table& table);
std::string csv_header();
std::string render_html(const Table& table);

std::string latex_escape(const std::string& text);
std::string html_escape(const std::string& text);

}  // namespace laco
