// Renderers of a report table: plain cells, Markdown (through the printer
// layer), LaTeX (booktabs), tidy CSV and HTML, all from the same cells.
#pragma once

#include <string>

#include "harness/print/table.h"
#include "report/table.h"

namespace laco {

/// "71.3 ± 2.1", "71.3" (one seed), "-" (missing); changes as "+12.3%".
std::string format_cell(const Cell& cell, const Column& column);

/// The table as the printer layer's model: cells as printed ("71.3 ± 2.1"), no bold.
PrintTable print_table(const Table& table);
/// Markdown through the printer layer's md printer, unpadded, best values in bold.
std::string render_markdown(const Table& table);
/// A booktabs tabular inside a table environment; compiles when wrapped in a
/// document with \usepackage{booktabs}.
std::string render_latex(const Table& table);
/// Tidy: one line per value with its table, method, options, placement, block,
/// ratio and metric as separate columns, then unit, mean (the central value),
/// ci_low, ci_high (95%; empty without raw data), std, n (seeds) and bold;
/// (table, method, options, placement, ratio, metric) is unique, so the file
/// pivots (docs/reports.md).
std::string render_csv_rows(const Table& table);
std::string csv_header();
std::string render_html(const Table& table);

std::string latex_escape(const std::string& text);
std::string html_escape(const std::string& text);

}  // namespace laco
