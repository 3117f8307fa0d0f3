#include "evals/run_record.h"

#include <fmt/format.h>
#include <torch/version.h>

#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/threads.h"
#include "harness/model/attention.h"
#include "harness/print/number.h"
#include "harness/print/printer.h"

namespace laco {

Provenance Provenance::here(const std::string& device) {
  Provenance p;
  p.git_commit = build_commit();
  p.git_dirty = build_dirty();
  p.host = this_host();
  p.device = device;
  p.torch_version = TORCH_VERSION;
  p.threads = describe_threads();
  p.attention = attention_backend();
  return p;
}

std::string Provenance::commit() const { return commit_label(git_commit, git_dirty); }

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
  nlohmann::json predictions = nlohmann::json::array();
  for (const auto& q : r.predictions)
    predictions.push_back(
        {{"id", q.id}, {"family", q.family}, {"answer", q.answer}, {"predicted", q.predicted}, {"correct", q.correct}});
  nlohmann::json out = {{"eval", r.eval()},
          {"config", to_json(r.spec)},
          {"facts", r.facts},
          {"metrics", metrics},
          {"series", series},
          {"samples", r.samples},
          {"predictions", predictions},
          {"provenance",
           {{"git_commit", p.git_commit},
            {"git_dirty", p.git_dirty ? nlohmann::json(*p.git_dirty) : nlohmann::json()},
            {"host", p.host}, {"device", p.device}, {"torch_version", p.torch_version},
            {"threads", p.threads}, {"attention", p.attention}, {"started_at", p.started_at},
            {"finished_at", p.finished_at}, {"wall_seconds", p.wall_seconds}}}};
  if (r.spec.is_benchmark()) {
    nlohmann::json responses = nlohmann::json::array();
    for (const auto& q : r.responses) responses.push_back(to_json(q));
    out["responses"] = responses;
  }
  return out;
}

nlohmann::json to_json(const std::vector<RunRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records) out.push_back(to_json(r));
  return out;
}

namespace {

PrintValue config_value(const nlohmann::json& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

}  // namespace

std::string format_record(const RunRecord& r) {
  std::string out = fmt::format("{} run\n", r.eval());
  const nlohmann::json config = to_json(r.spec);
  for (const auto& [key, value] : config.items())
    out += fmt::format("  {:<16} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  for (const auto& [key, value] : r.facts.items())
    out += fmt::format("  {:<16} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  const auto& p = r.provenance;
  out += fmt::format("  {:<16} {} on {} ({}), torch {}, {}, attention {}, {:.1f} s wall\n\n", "provenance", p.commit(),
                     p.host, p.device, p.torch_version, p.threads, p.attention, p.wall_seconds);
  PrintTable t;
  t.columns = {{"metric"}, {"value", "", Align::kRight}, {"unit"}};
  for (const auto& m : r.metrics) t.add({m.name, format_number(m.value, m.unit), m.unit});
  return out + make_printer("md")->print(t);
}

PrintTable records_table(const std::vector<RunRecord>& records, const std::vector<std::string>& config_keys,
                         const std::vector<std::string>& metrics) {
  PrintTable t;
  for (const auto& key : config_keys) t.columns.push_back({key, "", Align::kLeft});
  for (const auto& name : metrics) {
    std::string unit;
    for (const auto& r : records)
      for (const auto& m : r.metrics)
        if (m.name == name && unit.empty()) unit = m.unit;
    t.columns.push_back({name, unit, Align::kRight});
  }
  for (const auto& r : records) {
    const nlohmann::json config = to_json(r.spec);
    std::vector<PrintValue> row;
    for (const auto& key : config_keys) row.push_back(config_value(config, key));
    for (const auto& name : metrics) {
      if (auto v = r.value(name)) {
        row.emplace_back(*v);
      } else {
        row.emplace_back();  // missing: printed as "-" or an empty cell
      }
    }
    t.add(std::move(row));
  }
  return t;
}

}  // namespace laco
