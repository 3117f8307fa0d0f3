// One typed result record per run, fed to every printer (console, Markdown,
// JSON; SQL in results/). Every figure carries its unit.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco {

struct Metric {
  std::string name;
  double value = 0;
  std::string unit;
};

/// Where and how a run was made, so that a number can be traced months later.
struct Provenance {
  std::string git_commit;
  std::optional<bool> git_dirty;  ///< uncommitted changes when the binary was built; unknown outside git
  std::string host;
  std::string device;
  std::string torch_version;
  std::string threads;    ///< describe_threads()
  std::string attention;  ///< attention_backend()
  std::string started_at;   ///< UTC, ISO 8601
  std::string finished_at;
  double wall_seconds = 0;

  /// Fills everything but the times from this process and machine.
  static Provenance here(const std::string& device);
};

struct RunRecord {
  std::string eval;        ///< "efficiency", ...
  nlohmann::json config;   ///< the fully resolved configuration
  std::vector<Metric> metrics;
  /// Sampled curves, e.g. "loss_stage1" -> (step, value).
  std::map<std::string, std::vector<std::pair<int64_t, double>>> series;
  Provenance provenance;

  void add(const std::string& name, double value, const std::string& unit);
  std::optional<double> value(const std::string& name) const;
  /// The value or an Error naming the missing metric.
  double require(const std::string& name) const;
};

nlohmann::json to_json(const RunRecord& record);
nlohmann::json to_json(const std::vector<RunRecord>& records);

/// One run: its configuration, provenance and a name | value | unit table.
std::string format_record(const RunRecord& record);
/// Several runs side by side: a row per run, the given metrics as columns
/// (header "name (unit)"); missing values print as "-". Markdown-compatible.
std::string format_records_table(const std::vector<RunRecord>& records, const std::vector<std::string>& config_keys,
                                 const std::vector<std::string>& metrics);

/// "2026-11-21T07:30:00Z"
std::string utc_now();

}  // namespace laco
