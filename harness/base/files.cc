#include "harness/base/files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = ".laco-files";
constexpr const char* kStaging = ".laco-staging-";

std::string os_error(int error) { return fmt::format("{} (errno {})", std::strerror(error), error); }

// Writes `content` to a new file at `path` and flushes it to the device.
// Returns 0, or the errno of the step that failed (the file is then removed).
int write_and_sync(const std::string& path, const std::string& content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  int error = 0;
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0 && error == 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = n < 0 ? errno : ENOSPC;  // write() returning 0 for a regular file: nothing fits
    else p += n, left -= static_cast<size_t>(n);
  }
  if (error == 0 && ::fsync(fd) != 0) error = errno;
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error != 0) ::unlink(path.c_str());
  return error;
}

std::vector<std::string> read_manifest(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  if (!fs::is_regular_file(dir / kManifest, ec)) return names;
  std::istringstream in(read_file_bytes((dir / kManifest).string()));
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line.find('/') == std::string::npos && line != "." && line != "..") names.push_back(line);
  return names;
}

}  // namespace

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  if (const int error = write_and_sync(tmp, content))
    fail("{}: cannot write: {}; the previous file (if any) is unchanged", path, os_error(error));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    fail("{}: cannot rename {} into place: {}", path, tmp, os_error(error));
  }
}

void write_file_set(const std::string& dir_name, const std::vector<NamedFile>& files) {
  const fs::path dir(dir_name);
  std::set<std::string> names;
  for (const auto& [name, content] : files)
    if (name.empty() || name.find('/') != std::string::npos || name == kManifest || !names.insert(name).second)
      fail("write_file_set: '{}' is not a plain, unique file name", name);

  const MadeDirectories made(dir_name);
  const fs::path stage = dir / fmt::format("{}{}", kStaging, ::getpid());
  std::error_code ec;
  // Staging folders of processes that were killed while writing: theirs, and gone.
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kStaging, 0) != 0) continue;
    const auto pid = std::strtol(name.c_str() + std::strlen(kStaging), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(entry.path(), ec);
  }
  fs::remove_all(stage, ec);
  if (!fs::create_directory(stage, ec)) {
    made.undo();
    fail("{}: cannot create the staging folder {}: {}", dir_name, stage.string(), ec.message());
  }
  auto give_up = [&](const std::string& message) {
    std::error_code ignored;
    fs::remove_all(stage, ignored);
    made.undo();
    throw Error(message);
  };

  auto stage_file = [&](const std::string& name, const std::string& content) {
    if (const int error = write_and_sync((stage / name).string(), content))
      give_up(fmt::format("{}: cannot write: {}; nothing in {} was replaced", (dir / name).string(), os_error(error),
                          dir_name));
  };
  std::string manifest;
  for (const auto& [name, content] : files) {
    stage_file(name, content);
    manifest += name + "\n";
  }
  stage_file(kManifest, manifest);

  // Every file is written: replace the set. Renames within one folder need no space.
  const auto previous = read_manifest(dir);
  for (const auto& [name, content] : files)
    if (std::rename((stage / name).c_str(), (dir / name).c_str()) != 0)
      give_up(fmt::format("{}: cannot rename into place: {}", (dir / name).string(), os_error(errno)));
  for (const auto& old : previous)
    if (!names.count(old)) fs::remove(dir / old, ec);  // a file of the previous set the new one lacks
  std::rename((stage / kManifest).c_str(), (dir / kManifest).c_str());
  fs::remove_all(stage, ec);
}

namespace {

// "a folder", "a device", ...: what a path that is not a regular file is; "" for a regular file.
std::string not_regular(const struct stat& st) {
  if (S_ISREG(st.st_mode)) return "";
  if (S_ISDIR(st.st_mode)) return "a folder";
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "a device";
  if (S_ISFIFO(st.st_mode)) return "a FIFO";
  if (S_ISSOCK(st.st_mode)) return "a socket";
  return "not a regular file";
}

struct stat stat_regular(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail("{}: cannot open: {}", path, os_error(errno));
  const std::string what = not_regular(st);
  if (!what.empty()) fail("{}: is {} (allowed: a regular file)", path, what);
  return st;
}

}  // namespace

void check_regular_file(const std::string& path) { stat_regular(path); }

std::string file_sha256(const std::string& path, InputLimit limit) {
  static std::mutex mutex;
  static std::map<std::string, std::pair<std::string, std::string>> known;  // path -> (stamp, digest)
  const struct stat st = stat_regular(path);
  const std::string stamp = fmt::format("{}:{}.{}", st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  {
    const std::lock_guard<std::mutex> lock(mutex);
    auto it = known.find(path);
    if (it != known.end() && it->second.first == stamp) return it->second.second;
  }
  const std::string digest = sha256_hex(read_file_bytes(path, limit));
  const std::lock_guard<std::mutex> lock(mutex);
  known[path] = {stamp, digest};
  return digest;
}

std::string read_file_bytes(const std::string& path, InputLimit limit) {
  const struct stat st = stat_regular(path);
  check_input_limit(limit, path, static_cast<uint64_t>(st.st_size));
  const uint64_t max = input_limit(limit);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, os_error(errno));
  std::string out;
  out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      fail("{}: cannot read: {}", path, os_error(error));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max) {  // a file that grew, or one whose size its stat does not tell (/proc)
      ::close(fd);
      check_input_limit(limit, path, out.size());
    }
  }
  ::close(fd);
  return out;
}

MadeDirectories::MadeDirectories(const std::string& dir) {
  if (dir.empty()) return;
  std::vector<fs::path> missing;
  std::error_code ec;
  fs::path start = fs::path(dir).lexically_normal();
  if (start.filename().empty() && start.has_parent_path()) start = start.parent_path();  // "out/" is "out"
  for (fs::path p = start; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (!fs::create_directory(*it, ec) && ec) {
      const std::string reason = ec.message();
      undo();
      fail("{}: cannot create folder {}: {}", dir, it->string(), reason);
    }
    made_.push_back(it->string());
  }
  if (!fs::is_directory(dir, ec)) fail("{}: exists and is not a folder (allowed: a folder)", dir);
}

void MadeDirectories::undo() const {
  std::error_code ec;
  for (auto it = made_.rbegin(); it != made_.rend(); ++it)
    if (fs::is_empty(*it, ec)) fs::remove(*it, ec);
}

FileLock::FileLock(const std::string& path, const std::function<void()>& on_wait) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0 && (errno == EACCES || errno == EROFS)) return;  // nothing can be written there either: no one to wait for
  if (fd_ < 0) fail("{}: cannot open the lock file: {}", path, os_error(errno));
  bool waited = false;
  // Polled, not blocking: a signal must stop the wait (the sweep's handler
  // only sets a flag, and a blocking flock would resume after it).
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK && error != EINTR) {
      ::close(fd_);
      fail("{}: cannot lock: {}", path, os_error(error));
    }
    if (!waited && on_wait) on_wait();
    waited = true;
    if (interrupt_signal() != 0) {
      ::close(fd_);
      throw_if_interrupted();
    }
    ::usleep(100 * 1000);
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

bool read_bounded_line(std::istream& in, std::string& line, const std::string& path, int64_t number) {
  line.clear();
  const uint64_t max = input_limit(InputLimit::kLineBytes);
  char c;
  bool any = false;
  while (in.get(c)) {
    any = true;
    if (c == '\n') return true;
    line.push_back(c);
    if (line.size() > max) check_input_limit(InputLimit::kLineBytes, fmt::format("{}:{}", path, number), line.size());
  }
  return any;
}

void LineProblems::add(int64_t line, const std::string& problem) {
  constexpr int64_t kShown = 20;
  if (++total_ <= kShown) shown_.push_back(fmt::format("{}:{}: {}", path_, line, problem));
}

void LineProblems::throw_if_any(const std::string& consequence) const {
  if (total_ == 0) return;
  const auto hidden = total_ - static_cast<int64_t>(shown_.size());
  fail("{} problem(s) in {}; {}:\n  {}{}", total_, path_, consequence, join(shown_, "\n  "),
       hidden > 0 ? fmt::format("\n  ... and {} more", hidden) : "");
}

}  // namespace laco
