#include "evals/lmms_eval_log.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"

namespace laco {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// How deep filtered_resps may nest around its one string: [[text]] is the
// deepest lmms-eval writes (v0.2.x: ["text"]; v0.4 on, one request: "text").
constexpr int kMaxResponseNesting = 2;

std::string flatten_response(const json& v, const JsonChecker& ck, int depth = 0) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array() && v.size() == 1 && depth < kMaxResponseNesting) return flatten_response(v[0], ck, depth + 1);
  ck.error("$.filtered_resps",
           "expected one response, got {} (allowed: a string, or a list holding one string: "
           "a generate_until task's single request)",
           ck.describe(v));
}

// "a,b" -> "a" for "<metric>,<filter>"; "" for a key without a filter ("alias").
std::pair<std::string, std::string> split_metric_key(const std::string& key) {
  const auto comma = key.rfind(',');
  if (comma == std::string::npos) return {"", ""};
  return {key.substr(0, comma), key.substr(comma + 1)};
}

// A standard error entry ("x_stderr", "x_stderr_clt", "x_stderr_clustered"), not a metric.
bool is_stderr(const std::string& metric) {
  const std::string s = "_stderr";
  return metric.size() > s.size() &&
         (metric.compare(metric.size() - s.size(), s.size(), s) == 0 || metric.find(s + "_") != std::string::npos);
}

struct ResultsEntry {
  std::map<std::string, double> values;  // laco's metric name -> value
  std::set<std::string> names;           // every metric name as the file spells it (numeric or null)
  std::vector<std::string> sorted_names() const { return {names.begin(), names.end()}; }
};

ResultsEntry read_results_entry(const json& root, const std::string& task, const std::string& path,
                                const std::string& samples_path) {
  const JsonChecker ck(path);
  if (!root.is_object())
    ck.error("$", "expected an object, got {} (allowed: lmms-eval's results JSON)", ck.describe(root));
  if (!root.contains("results")) ck.error("$", "missing field 'results' (allowed: lmms-eval's results JSON)");
  const json& results = root.at("results");
  if (!results.is_object()) ck.error("$.results", "expected an object, got {}", ck.describe(results));
  if (!results.contains(task)) {
    std::vector<std::string> tasks;
    for (const auto& [name, value] : results.items()) tasks.push_back(name);
    ck.error("$.results", "no entry for task '{}', which {} holds (allowed: {})", task, samples_path,
             tasks.empty() ? std::string("none: the file reports no task") : join(tasks));
  }
  const json& entry = results.at(task);
  const std::string at = fmt::format("$.results.{}", task);
  if (!entry.is_object()) ck.error(at, "expected an object, got {}", ck.describe(entry));
  ResultsEntry out;
  std::map<std::string, std::string> filter_of;  // laco name -> the filter it came with
  for (const auto& [key, value] : entry.items()) {
    const auto [metric, filter] = split_metric_key(key);
    if (metric.empty() || is_stderr(metric)) continue;
    const std::string where = fmt::format("{}[\"{}\"]", at, key);
    if (!value.is_number() && !value.is_null())
      ck.error(where,
               "expected a number or null, got {} (allowed: an aggregate's value; null where the "
               "aggregation returns none)",
               ck.describe(value));
    const std::string name = lmms_eval_metric_name(metric);
    auto [it, fresh] = filter_of.emplace(name, filter);
    if (!fresh)
      ck.error(where,
               "metric '{}' is reported under filters '{}' and '{}' (allowed: one filter per metric; laco "
               "rescores one)",
               name, it->second, filter);
    out.names.insert(metric);
    if (value.is_number()) out.values[name] = value.get<double>();
  }
  if (out.names.empty()) ck.error(at, "no \"<metric>,<filter>\" entry (allowed: lmms-eval's aggregates of the task)");
  return out;
}

std::string optional_string(const json& root, const char* key, const JsonChecker& ck) {
  if (!root.contains(key) || root.at(key).is_null()) return "";
  return ck.string(root.at(key), std::string("$.") + key, "a string or null");
}

// One samples line into `out`.
void read_sample(const std::string& text, const JsonChecker& ck, const ResultsEntry& metrics, LmmsEvalSample& out) {
  json j;
  if (const std::string problem = parse_json(text, j); !problem.empty()) ck.error("$", "not valid JSON: {}", problem);
  if (!j.is_object())
    ck.error("$", "expected an object, got {} (allowed: one lmms-eval sample a line)", ck.describe(j));
  for (const char* key : {"doc_id", "target", "filtered_resps"})
    if (!j.contains(key))
      ck.error("$",
               "missing field '{}' (allowed: lmms-eval's sample fields: doc_id, target, "
               "filtered_resps and the task's metrics)",
               key);
  out.doc_id = ck.integer(j.at("doc_id"), "$.doc_id", 0, INT64_MAX, "an integer >= 0 (the document's row)");
  out.target = j.at("target");
  out.response = flatten_response(j.at("filtered_resps"), ck);
  if (j.contains("doc") && !j.at("doc").is_null()) {
    if (!j.at("doc").is_object()) ck.error("$.doc", "expected an object, got {}", ck.describe(j.at("doc")));
    out.doc = j.at("doc");
  }
  for (const auto& name : metrics.names)
    if (j.contains(name)) out.fields[lmms_eval_metric_name(name)] = j.at(name);
  if (out.fields.empty())
    ck.error("$", "no per-sample metric field (allowed: the task's metrics in the results file: {})",
             join(metrics.sorted_names()));
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& lmms_eval_task_names() {
  // lmms-eval's task names from its tasks/<task>/*.yaml "task:" keys
  // @75571cfe0fa36ca5ec2e6aa2bb268f9d38295af3. pope_adv/pope_pop/pope_random
  // are POPE's three splits as tasks of their own (same process_results).
  // Group names (mmbench_en, vqav2, textvqa, docvqa) write no samples file
  // and are not tasks here.
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"mme", "mme"},
      {"pope", "pope"},
      {"pope_adv", "pope"},
      {"pope_pop", "pope"},
      {"pope_random", "pope"},
      {"mmbench_en_dev", "mmbench_en"},
      {"seedbench", "seedbench"},
      {"scienceqa_img", "scienceqa_img"},
      {"vqav2_val", "vqav2"},
      {"textvqa_val", "textvqa"},
      {"gqa", "gqa"},
      {"docvqa_val", "docvqa"},
      {"chartqa", "chartqa"},
  };
  return table;
}

std::string laco_task_of(const std::string& lmms_task) {
  for (const auto& [lmms, laco] : lmms_eval_task_names())
    if (lmms == lmms_task) return laco;
  return "";
}

std::string lmms_eval_metric_name(const std::string& name) {
  // lmms-eval before bb3fd824 (2024-11-05; v0.3.0 is the first release with the fix).
  return name == "mme_percetion_score" ? "mme_perception_score" : name;
}

std::string lmms_eval_task_of_file(const std::string& samples_path) {
  const std::string name = fs::path(samples_path).filename().string();
  const std::string ext = ".jsonl";
  auto bad = [&]() -> std::string {
    fail(
        "{}: cannot tell the task from the file's name (allowed: <date>_samples_<task>.jsonl, as lmms-eval "
        "writes it since v0.2.4, or samples_<task>_<date>.jsonl, as v0.2.3 did)",
        samples_path);
  };
  if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return bad();
  const std::string stem = name.substr(0, name.size() - ext.size());
  std::string task;
  if (stem.rfind("samples_", 0) == 0) {
    // utils.get_file_task_name: between the first '_' and the last.
    const auto last = stem.rfind('_');
    if (last > 8) task = stem.substr(8, last - 8);
  } else if (const auto at = stem.find("_samples_"); at != std::string::npos && at > 0) {
    task = stem.substr(at + 9);
  }
  if (task.empty()) return bad();
  return task;
}

LmmsEvalTaskLog read_lmms_eval_log(const std::string& samples_path, const std::string& results_path) {
  LmmsEvalTaskLog log;
  log.samples_path = samples_path;
  log.results_path = results_path;
  log.lmms_task = lmms_eval_task_of_file(samples_path);
  log.task = laco_task_of(log.lmms_task);

  const std::string bytes = read_file_bytes(results_path);
  log.results_sha256 = sha256_hex(bytes);
  json root;
  if (const std::string problem = parse_json(bytes, root); !problem.empty())
    fail("{}: not valid JSON: {}", results_path, problem);
  const ResultsEntry entry = read_results_entry(root, log.lmms_task, results_path, samples_path);
  log.results = entry.values;
  const JsonChecker ck(results_path);
  if (root.contains("config")) {
    if (!root.at("config").is_object())
      ck.error("$.config", "expected an object, got {}", ck.describe(root.at("config")));
    log.config = root.at("config");
  }
  log.git_hash = optional_string(root, "git_hash", ck);
  log.version = optional_string(root, "lmms_eval_version", ck);
  log.date = optional_string(root, "date", ck);

  check_regular_file(samples_path);
  log.samples_sha256 = file_sha256(samples_path);
  std::ifstream in(samples_path, std::ios::binary);
  if (!in) fail("{}: cannot open", samples_path);
  std::map<int64_t, int64_t> line_of_doc;
  std::string line;
  for (int64_t number = 1; read_bounded_line(in, line, samples_path, number); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const JsonChecker at(fmt::format("{}:{}", samples_path, number));
    LmmsEvalSample s;
    s.line = number;
    read_sample(line, at, entry, s);
    if (auto [it, fresh] = line_of_doc.emplace(s.doc_id, number); !fresh)
      at.error("$.doc_id",
               "doc_id {} is also on line {} (allowed: each document once; laco reads one filter's samples)", s.doc_id,
               it->second);
    log.samples.push_back(std::move(s));
  }
  if (log.samples.empty()) fail("{}: holds no samples (allowed: one lmms-eval sample a line)", samples_path);
  return log;
}

}  // namespace laco
