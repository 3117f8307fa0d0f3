// Shared by the sweep and results-database suites: a tiny sweep spec, the
// `laco` binary as a child process, and a logical dump of a database.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace laco::test {

/// A spec on the tiny presets that runs in a few seconds: accuracy (5 steps
/// of stage 0) and efficiency (encoder only, one repetition) for none,
/// avgpool and laco at 1/4 and after the encoder. With `only_eval`, that
/// evaluation alone.
nlohmann::json tiny_spec(const std::string& name = "tiny", const std::string& only_eval = "");

/// "LACO_BIN sweep SPEC --db DB --cache-dir DIR/cache" plus `extra`, output into DIR/NAME.log.
std::string sweep_command(const std::string& spec, const std::string& db, const std::string& extra = "");

/// Starts the laco binary with these arguments, stdout and stderr into `log`.
/// With `pending_signal`, that signal is already waiting (blocked, then
/// raised) when laco starts: it arrives at laco's first instant.
pid_t spawn_laco(const std::vector<std::string>& args, const std::string& log, int pending_signal = 0);
/// Waits for a child; its exit status, or 128 + signal when killed.
int wait_child(pid_t pid);

/// Every run (key, status) with its metric names and values, as text, for
/// comparing two databases' content independently of storage order.
std::string dump_runs(const std::string& db, bool with_values);
/// Rows of one SQL query as "a|b|c" lines, on a read-only connection.
std::vector<std::string> query_rows(const std::string& db, const std::string& sql);

}  // namespace laco::test
