#include "evals/benchmark_data.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"

namespace laco {
namespace fs = std::filesystem;
namespace {

constexpr size_t kMaxOptions = 26;   // A..Z
constexpr size_t kMaxAnswers = 100;  // VQAv2 has 10; DocVQA a handful
const std::vector<std::string> kFields = {"id",      "image",    "question", "answer", "answers",
                                          "options", "category", "image_id", "extra"};

// One line into `out`; "" or the problem.
std::string parse_question(const std::string& line, const fs::path& base, const TaskType& task,
                           BenchmarkQuestion& out) {
  nlohmann::json j;
  if (const std::string problem = parse_json(line, j); !problem.empty()) return "not valid JSON: " + problem;
  if (!j.is_object()) return "must be a JSON object";
  for (const auto& [key, value] : j.items())
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end())
      return fmt::format("unknown field '{}' (allowed: {})", key, join(kFields));
  auto string_field = [&](const char* key, bool required, std::string& into) -> std::string {
    if (!j.contains(key)) return required ? fmt::format("missing field '{}'", key) : "";
    if (!j[key].is_string()) return fmt::format("field '{}' must be a string, got {}", key, j[key].type_name());
    into = j[key].get<std::string>();
    return "";
  };
  auto& q = out.question;
  if (!j.contains("id")) return "missing field 'id'";
  if (j["id"].is_string()) q.id = j["id"].get<std::string>();
  else if (j["id"].is_number_integer()) q.id = std::to_string(j["id"].get<int64_t>());
  else return fmt::format("field 'id' must be a string or an integer, got {}", j["id"].type_name());
  if (q.id.empty()) return "field 'id' is empty";
  std::string image;
  for (const auto& p : {string_field("image", true, image), string_field("question", true, q.question),
                        string_field("category", false, q.category), string_field("image_id", false, q.image_id)})
    if (!p.empty()) return p;
  if (image.empty()) return "field 'image' is empty";
  const fs::path resolved = fs::path(image).is_absolute() ? fs::path(image) : base / image;
  std::error_code ec;
  if (!fs::is_regular_file(resolved, ec))
    return fmt::format("image '{}' ({}) is not there (allowed: a PNG or JPEG file)", image, resolved.string());
  out.image = resolved.string();
  if (q.image_id.empty()) q.image_id = image;
  if (j.contains("answer") == j.contains("answers")) return "needs exactly one of 'answer' (a string) and 'answers' (a list)";
  if (j.contains("answer")) {
    std::string a;
    if (const auto p = string_field("answer", true, a); !p.empty()) return p;
    q.answers = {a};
  } else {
    const auto& a = j["answers"];
    if (!a.is_array() || a.empty() || a.size() > kMaxAnswers)
      return fmt::format("field 'answers' must be a list of 1..{} strings", kMaxAnswers);
    for (const auto& x : a) {
      if (!x.is_string()) return "field 'answers' must hold strings only";
      q.answers.push_back(x.get<std::string>());
    }
  }
  if (j.contains("options")) {
    const auto& o = j["options"];
    if (!o.is_array() || o.size() < 2 || o.size() > kMaxOptions)
      return fmt::format("field 'options' must be a list of 2..{} strings", kMaxOptions);
    for (const auto& x : o) {
      if (!x.is_string()) return "field 'options' must hold strings only";
      q.options.push_back(x.get<std::string>());
    }
  }
  if (task.needs_options && q.options.empty())
    return fmt::format("task '{}' is multiple choice: field 'options' is required", task.name);
  if (task.needs_options) {
    const std::string& a = q.answers.front();
    if (q.answers.size() != 1 || a.size() != 1 || a[0] < 'A' || a[0] >= 'A' + static_cast<int>(q.options.size()))
      return fmt::format("task '{}': 'answer' must be the letter of an option (A..{}), got '{}'", task.name,
                         static_cast<char>('A' + q.options.size() - 1), join(q.answers));
  }
  if (j.contains("extra")) {
    if (!j["extra"].is_object()) return fmt::format("field 'extra' must be an object, got {}", j["extra"].type_name());
    q.extra = j["extra"];
  }
  return "";
}

}  // namespace

Benchmark load_benchmark(const std::string& path, const std::string& task_name, int64_t limit) {
  const TaskType& task = find_task(task_name, "--task");
  if (limit < 0) fail("--limit: must be >= 0 (0: every question), got {}", limit);
  check_regular_file(path);
  Benchmark b;
  b.path = path;
  b.task = task.name;
  b.sha256 = file_sha256(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open", path);
  const fs::path base = fs::path(path).parent_path();
  LineProblems problems(path);
  std::set<std::string> ids;
  std::string line;
  for (int64_t number = 1; read_bounded_line(in, line, path, number); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    BenchmarkQuestion q;
    q.line = number;
    std::string problem = parse_question(line, base, task, q);
    if (problem.empty() && !ids.insert(q.question.id).second)
      problem = fmt::format("duplicate id '{}' (each question's id must be unique in the file)", q.question.id);
    if (problem.empty()) b.questions.push_back(std::move(q));
    else problems.add(number, problem);
  }
  problems.throw_if_any("nothing was run");
  if (b.questions.empty()) fail("{}: holds no questions", path);
  b.total = static_cast<int64_t>(b.questions.size());
  if (limit > 0 && limit < b.total) b.questions.resize(static_cast<size_t>(limit));
  return b;
}

}  // namespace laco
