#include "cli/report.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "harness/base/text.h"
#include "harness/print/printer.h"
#include "report/load.h"
#include "report/report.h"

namespace laco {

void ReportCli::attach(CLI::App& app) {
  command = app.add_subcommand("report", "Regenerate the paper's tables and plots from the results database");
  command->add_option("--db", db, "Results database")->capture_default_str();
  command->add_option("--out", out, "Output folder")->capture_default_str();
  command->add_option("--files", formats, "Files to write, comma-separated: " + join(report_format_names()))
      ->capture_default_str();
  command->add_option("-o,--format", print_format, "What is printed: " + join(printer_formats()))->capture_default_str();
  command->add_option("--table", tables, "benchmark (one table per task, benchmark file, checkpoint and limit of the benchmark runs), methods, placement, ratio, efficiency, training (when a frozen stage was measured), generation (when decode was measured), budget (when runs were trained at more than one budget) or all (comma-separated)")
      ->capture_default_str();
  command->add_option("--placement", placement, "Placement of the methods and ratio tables")->capture_default_str();
  command->add_option("-r,--ratio", ratio, "Ratio of the methods, placement and efficiency tables")
      ->capture_default_str();
  command->add_option("--accuracy-preset", accuracy_preset, "Accuracy preset (default: the one with most runs)");
  command->add_option("--efficiency-preset", efficiency_preset, "Efficiency preset (default: the one with most runs)");
  command->add_option("--where", where, "KEY=VALUE filter, as in `laco query` (repeatable; same key: OR, different keys: AND)");
  command->add_flag("-q,--quiet", quiet, "Do not print the tables");
}

bool ReportCli::chosen() const { return command && command->parsed(); }

int ReportCli::run() const {
  ReportRequest request;
  request.options.placement = placement;
  request.options.ratio = ratio;
  request.options.accuracy_preset = accuracy_preset;
  request.options.efficiency_preset = efficiency_preset;
  request.out_dir = out;
  request.formats = list_items(formats, "--files");
  request.print_format = print_format;
  request.tables = list_items(tables, "--table");
  request.source = db;
  check_report_request(request);  // before the database is even opened
  std::vector<std::string> warnings;
  const auto runs = load_done_runs(db, where, &warnings);
  for (const auto& w : warnings) fmt::print(stderr, "laco: warning: {}\n", w);
  const auto files = write_report(runs, request);
  if (!quiet) fmt::print("{}", files.printed);
  fmt::print("report: {} finished runs from {}; wrote {} files to {}\n", runs.size(), db, files.written.size(), out);
  if (!files.html_path.empty()) fmt::print("report: open {}\n", files.html_path);
  return 0;
}

}  // namespace laco
