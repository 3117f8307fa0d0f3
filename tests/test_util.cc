#include "tests/test_util.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/limits.h"

namespace laco::test {

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const laco::Error& e) {
    const std::string message = e.what();
    for (const auto& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos) << "message: \"" << message << "\" lacks \"" << f << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected laco::Error, got another exception: " << e.what();
    return;
  }
  ADD_FAILURE() << "expected laco::Error, nothing was thrown";
}

std::string parity_dir() {
  std::string dir = std::getenv("LACO_PARITY_DIR") ? std::getenv("LACO_PARITY_DIR") : LACO_DEFAULT_PARITY_DIR;
  return std::filesystem::is_directory(dir) ? dir : std::string();
}

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("laco_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

void write_file(const std::string& path, const std::string& text) {
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

Mount::Mount(std::string where, const std::string& command) : at(std::move(where)) {
  ok = run_command(command).status == 0;
  if (!ok) run_command("umount " + at + " 2>/dev/null");
}

Mount Mount::read_only(const std::string& src, const std::string& at) {
  return Mount(at, "mount --bind " + src + " " + at + " && mount -o remount,ro,bind " + at);
}

Mount Mount::tmpfs(const std::string& at, int kib) {
  return Mount(at, "mount -t tmpfs -o size=" + std::to_string(kib) + "k tmpfs " + at);
}

Mount::~Mount() {
  if (ok) run_command("umount " + at);
}

uint64_t fill_disk(const std::string& dir, uint64_t leave) {
  const auto free = std::filesystem::space(dir).available;
  if (free <= leave) return 0;
  const uint64_t n = free - leave;
  std::ofstream out(dir + "/filler", std::ios::binary);
  const std::string block(4096, 'x');
  uint64_t written = 0;
  while (written + block.size() <= n && out.write(block.data(), block.size())) written += block.size();
  out.flush();
  return written;
}

std::string chat_checkpoint() {
  namespace fs = std::filesystem;
  using nlohmann::json;
  const std::string dir = temp_dir("llava_onevision_chat");
  for (const auto& e : fs::directory_iterator(kChatFixture))
    fs::copy_file(e.path(), fs::path(dir) / e.path().filename(), fs::copy_options::overwrite_existing);
  json tok = json::parse(read_file_bytes(LACO_SHARED_TOKENIZERS_DIR "/qwen/tokenizer.json", InputLimit::kDataBytes));
  const json config = json::parse(read_file_bytes(kChatFixture + "/tokenizer_config.json"));
  std::map<int64_t, json> added;
  for (const auto& [id, t] : config.at("added_tokens_decoder").items())
    added[std::stoll(id)] = json{{"id", std::stoll(id)},           {"content", t.at("content")},
                                 {"single_word", t.at("single_word")}, {"lstrip", t.at("lstrip")},
                                 {"rstrip", t.at("rstrip")},           {"normalized", t.at("normalized")},
                                 {"special", t.at("special")}};
  tok["added_tokens"] = json::array();
  for (const auto& [id, t] : added) tok["added_tokens"].push_back(t);
  write_file(dir + "/tokenizer.json", tok.dump());
  return dir;
}

std::string mme_file(const std::string& dir) {
  for (int i : {0, 1, 3})
    std::filesystem::copy_file(fmt::format(LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image{}.png", i),
                  fmt::format("{}/image{}.png", dir, i), std::filesystem::copy_options::overwrite_existing);
  write_file(dir + "/mme.jsonl",
                   R"({"id": "q1", "image": "image0.png", "question": "Is there a dog? Please answer yes or no.", "answer": "Yes", "category": "existence", "image_id": "i0"}
{"id": "q2", "image": "image0.png", "question": "Is there a cat? Please answer yes or no.", "answer": "No", "category": "existence", "image_id": "i0"}
{"id": "q3", "image": "image1.png", "question": "Is this a poster? Please answer yes or no.", "answer": "Yes", "category": "posters", "image_id": "i1"}
{"id": "q4", "image": "image1.png", "question": "Is this a photo? Please answer yes or no.", "answer": "No", "category": "posters", "image_id": "i1"}
{"id": "q5", "image": "image3.png", "question": "Is the sum 4? Please answer yes or no.", "answer": "Yes", "category": "numerical_calculation", "image_id": "i3"}
{"id": "q6", "image": "image3.png", "question": "Is the sum 5? Please answer yes or no.", "answer": "No", "category": "numerical_calculation", "image_id": "i3"}
)");
  return dir + "/mme.jsonl";
}

}  // namespace laco::test
