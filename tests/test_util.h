// Helpers shared by the test suites.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace laco::test {

/// Runs `fn`, expects a laco::Error whose message contains every fragment.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments);

/// The shared/parity folder: $LACO_PARITY_DIR, else ../shared/parity beside
/// the source tree. Empty when absent.
std::string parity_dir();

/// A fresh, empty temporary directory for one test.
std::string temp_dir(const std::string& name);

/// Writes text to a file (creating its folder).
void write_file(const std::string& path, const std::string& text);
/// The file's bytes ("" when it cannot be read).
std::string read_file(const std::string& path);

/// Runs a shell command, returns its exit status and combined output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace laco::test
