#include "harness/record.h"

#include <unistd.h>

#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <torch/version.h>

#include "harness/attention.h"
#include "harness/build_info.h"
#include "harness/error.h"
#include "harness/threads.h"

namespace laco {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Provenance Provenance::here(const std::string& device) {
  Provenance p;
  p.git_commit = build_commit();
  p.git_dirty = build_dirty();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  p.host = host;
  p.device = device;
  p.torch_version = TORCH_VERSION;
  p.threads = describe_threads();
  p.attention = attention_backend();
  return p;
}

void RunRecord::add(const std::string& name, double value, const std::string& unit) {
  metrics.push_back({name, value, unit});
}

std::optional<double> RunRecord::value(const std::string& name) const {
  for (const auto& m : metrics)
    if (m.name == name) return m.value;
  return std::nullopt;
}

double RunRecord::require(const std::string& name) const {
  if (auto v = value(name)) return *v;
  fail("run record has no metric '{}'", name);
}

nlohmann::json to_json(const RunRecord& r) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : r.metrics) metrics.push_back({{"name", m.name}, {"value", m.value}, {"unit", m.unit}});
  const auto& p = r.provenance;
  nlohmann::json series = nlohmann::json::object();
  for (const auto& [name, points] : r.series) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& [step, value] : points) arr.push_back({step, value});
    series[name] = arr;
  }
  return {{"eval", r.eval},
          {"config", r.config},
          {"metrics", metrics},
          {"series", series},
          {"provenance",
           {{"git_commit", p.git_commit},
            {"git_dirty", p.git_dirty ? nlohmann::json(*p.git_dirty) : nlohmann::json()},
            {"host", p.host}, {"device", p.device}, {"torch_version", p.torch_version},
            {"threads", p.threads}, {"attention", p.attention}, {"started_at", p.started_at},
            {"finished_at", p.finished_at}, {"wall_seconds", p.wall_seconds}}}};
}

nlohmann::json to_json(const std::vector<RunRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records) out.push_back(to_json(r));
  return out;
}

namespace {

std::string format_value(double v) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e7 || a < 1e-3)) return fmt::format("{:.4g}", v);
  if (a >= 100 || std::floor(v) == v) return fmt::format("{:.1f}", v);
  return fmt::format("{:.4g}", v);
}

std::string config_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string format_record(const RunRecord& r) {
  std::string out = fmt::format("{} run\n", r.eval);
  for (const auto& [key, value] : r.config.items()) out += fmt::format("  {:<16} {}\n", key, config_text(value));
  const auto& p = r.provenance;
  out += fmt::format("  {:<16} {}{} on {} ({}), torch {}, {}, attention {}, {:.1f} s wall\n", "provenance",
                     p.git_commit, p.git_dirty.value_or(false) ? "-dirty" : "", p.host, p.device, p.torch_version, p.threads, p.attention, p.wall_seconds);
  size_t width = 6;
  for (const auto& m : r.metrics) width = std::max(width, m.name.size());
  out += fmt::format("\n  | {:<{}} | {:>12} | {:<8} |\n", "metric", width, "value", "unit");
  out += fmt::format("  |{:-<{}}|{:->14}|{:-<10}|\n", "", width + 2, "", "");
  for (const auto& m : r.metrics)
    out += fmt::format("  | {:<{}} | {:>12} | {:<8} |\n", m.name, width, format_value(m.value), m.unit);
  return out;
}

std::string format_records_table(const std::vector<RunRecord>& records, const std::vector<std::string>& config_keys,
                                 const std::vector<std::string>& metrics) {
  std::vector<std::string> header = config_keys;
  for (const auto& name : metrics) {
    std::string unit;
    for (const auto& r : records)
      for (const auto& m : r.metrics)
        if (m.name == name && unit.empty()) unit = m.unit;
    header.push_back(unit.empty() ? name : fmt::format("{} ({})", name, unit));
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : records) {
    std::vector<std::string> row;
    for (const auto& key : config_keys) row.push_back(r.config.contains(key) ? config_text(r.config[key]) : "-");
    for (const auto& name : metrics) {
      auto v = r.value(name);
      row.push_back(v ? format_value(*v) : "-");
    }
    rows.push_back(row);
  }
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); ++i) {
    w[i] = header[i].size();
    for (const auto& row : rows) w[i] = std::max(w[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t i = 0; i < cells.size(); ++i)
      s += i < config_keys.size() ? fmt::format(" {:<{}} |", cells[i], w[i]) : fmt::format(" {:>{}} |", cells[i], w[i]);
    return s + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t i = 0; i < header.size(); ++i)
    out += i < config_keys.size() ? std::string(w[i] + 2, '-') + "|" : std::string(w[i] + 1, '-') + ":|";
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

}  // namespace laco
