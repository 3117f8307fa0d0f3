// `laco report`: every table and plot regenerated from finished runs alone,
// written as Markdown, LaTeX, CSV and a self-contained HTML page. Same runs,
// same bytes: nothing depends on the clock or on the order runs were stored.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "report/plots.h"
#include "report/tables.h"

namespace laco {

struct ReportRequest {
  ReportOptions options;
  std::string out_dir = "report/out";
  std::vector<std::string> formats = {"md", "latex", "csv", "html"};  ///< files written (--files)
  std::string print_format = "md";  ///< what is printed on the terminal (--format: printer_formats())
  /// benchmark (every benchmark table), finetune (every fine-tune table), methods, placement, ratio, efficiency,
  /// training (only when a frozen stage was measured), generation, budget (only when runs were trained at more than
  /// one budget) or all
  std::vector<std::string> tables = {"all"};
  std::string source;                         ///< the database path, named in the provenance
};

struct ReportFiles {
  std::vector<std::string> written;  ///< in writing order
  std::string printed;               ///< every selected table in request.print_format, for the terminal
  std::string html_path;             ///< "" when html was not requested
};

/// Checks file formats, the printed format, table names and the ratio (errors
/// list the allowed values) before writing anything.
void check_report_request(const ReportRequest& request);
std::vector<std::string> report_format_names();

/// Writes the files (each to a temporary name first, then renamed: no half-written report).
ReportFiles write_report(const std::vector<RunRecord>& runs, const ReportRequest& request);

/// The self-contained page: tables, SVG plots and a provenance footer.
/// `table_charts`: an SVG drawn right after the table of that name (a
/// fine-tune table's loss curves).
std::string render_report_html(const std::vector<Table>& tables, const std::vector<std::string>& charts,
                               const std::vector<RunRecord>& runs, const ReportRequest& request,
                               const std::map<std::string, std::string>& table_charts = {});
/// A standalone LaTeX document (article, booktabs, pgfplots) holding the
/// tables and the charts as pgfplots figures.
std::string render_latex_document(const std::vector<Table>& tables, const std::vector<Chart>& charts = {});

}  // namespace laco
