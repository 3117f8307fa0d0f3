// `laco report`: the subcommand's flags and action, kept out of main.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace laco {

/// Usage: ReportCli report; report.attach(app); ... if (report.chosen()) return report.run();
struct ReportCli {
  std::string db = "results/laco.db";
  std::string out = "report/out";
  std::string formats = "md,latex,csv,html";  ///< files (--files)
  std::string print_format = "md";            ///< terminal (-o/--format)
  std::string tables = "all";
  std::string placement = "1/4";
  int64_t ratio = 2;
  std::string accuracy_preset, efficiency_preset;
  std::vector<std::string> where;  ///< --where KEY=VALUE (results/filter.h)
  bool quiet = false;
  CLI::App* command = nullptr;

  void attach(CLI::App& app);
  bool chosen() const;
  /// Reads the database, writes the files, prints the tables and the HTML path.
  int run() const;
};

}  // namespace laco
