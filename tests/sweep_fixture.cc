#include "tests/sweep_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "results/schema.h"
#include "results/sqlite.h"

namespace laco::test {

nlohmann::json tiny_spec(const std::string& name, const std::string& only_eval) {
  auto spec = nlohmann::json::parse(fmt::format(R"({{
    "name": "{}",
    "evals": ["accuracy", "efficiency"],
    "accuracy": {{"preset": "tiny", "seeds": [0], "steps0": 5, "steps1": 1, "steps2": 1}},
    "efficiency": {{"preset": "tiny", "warmup": 0, "reps": 1, "stages": ["encoder"]}},
    "grids": [{{"name": "g", "methods": ["none", "avgpool", "laco"], "placements": ["1/4", "1"], "ratios": [2]}}]
  }})",
                                           name));
  if (!only_eval.empty()) {
    spec["evals"] = {only_eval};
    spec.erase(only_eval == "accuracy" ? "efficiency" : "accuracy");
  }
  return spec;
}

std::string sweep_command(const std::string& spec, const std::string& db, const std::string& extra) {
  const auto dir = std::filesystem::path(db).parent_path().string();
  return fmt::format("{} sweep {} --db {} --cache-dir {}/cache {}", LACO_BIN, spec, db, dir, extra);
}

pid_t spawn_laco(const std::vector<std::string>& args, const std::string& log, int pending_signal) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (pending_signal != 0) {  // blocked signals stay pending across exec
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, pending_signal);
      sigprocmask(SIG_BLOCK, &set, nullptr);
      raise(pending_signal);
    }
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    std::string bin = LACO_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

std::vector<std::string> query_rows(const std::string& db, const std::string& sql_text) {
  sql::Connection c = open_results_db(db, false);
  auto q = c.prepare(sql_text);
  std::vector<std::string> rows;
  while (q.step()) {
    std::string row;
    for (int i = 0; i < q.columns(); ++i) row += (i ? "|" : "") + sql::to_text(q.value(i));
    rows.push_back(row);
  }
  return rows;
}

std::string dump_runs(const std::string& db, bool with_values) {
  std::string out;
  for (const auto& row : query_rows(db, "SELECT key, eval, status FROM runs ORDER BY key")) out += row + "\n";
  const std::string metrics = with_values
                                  ? "SELECT run_key, name, value, unit FROM metrics ORDER BY run_key, name"
                                  : "SELECT run_key, name, unit FROM metrics ORDER BY run_key, name";
  for (const auto& row : query_rows(db, metrics)) out += row + "\n";
  return out;
}

}  // namespace laco::test
