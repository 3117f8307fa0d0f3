// Helpers shared by the test suites.
#pragma once

#include <cstdint>
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

/// The tiny LLaVA-OneVision checkpoint of scripts/llava_chat_fixtures.py (its folder).
inline const std::string kChatFixture = LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat";
/// A copy of it in a fresh temporary folder with its tokenizer.json derived as
/// the script derives it: the shared Qwen tokenizer.json with its added_tokens
/// replaced by the folder's tokenizer_config.json added_tokens_decoder, in id
/// order (the 11 MB file is not committed twice).
std::string chat_checkpoint();

/// Six MME questions on three of the chat fixture's images (two each, as MME
/// pairs them; one cognition category among them) written into `dir` as
/// mme.jsonl with its images; returns the file's path.
std::string mme_file(const std::string& dir);

/// Runs a shell command, returns its exit status and combined output.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

/// A file system mounted at `at` for the life of the object (unmounted after).
/// ok is false where the machine allows no mount (not root): tests then skip.
/// Usage: const Mount disk = Mount::tmpfs(dir, 256); if (!disk.ok) GTEST_SKIP();
struct Mount {
  static Mount read_only(const std::string& src, const std::string& at);  ///< a read-only bind mount of src
  static Mount tmpfs(const std::string& at, int kib);                      ///< a small disk that fills up
  Mount(Mount&& other) noexcept : at(std::move(other.at)), ok(other.ok) { other.ok = false; }
  ~Mount();
  std::string at;
  bool ok = false;

 private:
  Mount(std::string where, const std::string& command);
};

/// Fills the file system holding `dir` until at most `leave` bytes are free
/// (a file `dir`/filler); the space it takes, in bytes.
uint64_t fill_disk(const std::string& dir, uint64_t leave);

}  // namespace laco::test
