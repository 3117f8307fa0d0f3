#include "harness/score/task.h"

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {

const std::vector<TaskType>& task_registry() {
  static const std::vector<TaskType> all = [] {
    std::vector<TaskType> t = {mme_task(), pope_task()};
    for (auto&& x : multiple_choice_tasks()) t.push_back(std::move(x));
    for (auto&& x : vqa_tasks()) t.push_back(std::move(x));
    t.push_back(gqa_task());
    for (auto&& x : anls_tasks()) t.push_back(std::move(x));
    return t;
  }();
  return all;
}

double lmms_mean(const std::vector<double>& values, const std::string& task) {
  if (values.empty()) fail("{}: no questions to aggregate", task);
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::vector<double> score_values(const std::vector<QuestionScore>& scores) {
  std::vector<double> out;
  out.reserve(scores.size());
  for (const auto& s : scores) out.push_back(s.score);
  return out;
}

std::string task_names() {
  std::vector<std::string> names;
  for (const auto& t : task_registry()) names.push_back(t.name);
  return join(names);
}

const TaskType& find_task(const std::string& name, const std::string& where) {
  for (const auto& t : task_registry())
    if (t.name == name) return t;
  fail("{}: unknown task type '{}' (allowed: {})", where, name, task_names());
}

}  // namespace laco
