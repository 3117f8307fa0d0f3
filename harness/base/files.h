// Whole-file writes that cannot be seen half-done, and sets of files that are
// replaced together. Content goes to a temporary on the same file system, is
// written with write(2) and fsync(2) so that a full disk or a quota is noticed
// there (a buffered ofstream reported a full disk only as "write failed", and
// left a partial temporary behind), and is renamed into place. Every error
// names the file and the operating system's reason ("No space left on
// device"); nothing partial is left behind.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "harness/base/limits.h"

namespace laco {

/// Usage: write_file_atomically("cache/stage0.safetensors", bytes);
/// An Error naming the file and the OS error when it cannot be written; the
/// previous file (if any) is then untouched and no temporary is left behind.
void write_file_atomically(const std::string& path, const std::string& content);

/// One file of a set: a plain name (no folder) and its content.
using NamedFile = std::pair<std::string, std::string>;

/// Usage: write_file_set("report", {{"report.md", md}, {"report.html", html}});
/// Writes every file into a staging folder inside `dir` first; only when all
/// of them were written are they renamed into `dir` (in the order given, so
/// an index naming the others goes last), which needs no disk space. Files of
/// the set written there before (listed in `dir`/.laco-files) that the new set
/// does not hold are removed, so `dir` never mixes two sets. On any error the
/// staging folder is removed and `dir` keeps the previous set whole. Files in
/// `dir` that laco did not write are never touched.
void write_file_set(const std::string& dir, const std::vector<NamedFile>& files);

/// The whole file as bytes, or an Error naming it and the OS error. Only a
/// regular file (or a link to one) is read: a folder, a device (/dev/zero), a
/// FIFO or a socket is refused by name; and only up to `limit`'s bytes
/// (harness/base/limits.h), checked from its size before anything is read
/// and again while reading.
std::string read_file_bytes(const std::string& path, InputLimit limit = InputLimit::kFileBytes);

/// The SHA-256 (hex) of a whole file, read within `limit`. Remembered per
/// path while the file's size and modification time stay the same: a sweep
/// asks for the digest of its data or checkpoint once per run, and hashing a
/// released checkpoint reads gigabytes.
std::string file_sha256(const std::string& path, InputLimit limit = InputLimit::kDataBytes);

/// Reads line `number` of a JSONL-like file from `in` into `line` (without
/// its newline), within the line-size limit (an Error naming path:number over
/// it). False at the end of the file. Usage: for (int64_t n = 1; read_bounded_line(in, line, path, n); ++n)
bool read_bounded_line(std::istream& in, std::string& line, const std::string& path, int64_t number);

/// The problems of a line-based file (a JSONL), gathered so that a user sees
/// them together, each as path:line, the first 20 in full.
/// Usage: LineProblems p(path); ... p.add(number, "missing field 'id'"); ... p.throw_if_any("nothing was run");
class LineProblems {
 public:
  explicit LineProblems(std::string path) : path_(std::move(path)) {}
  void add(int64_t line, const std::string& problem);
  /// An Error "N problem(s) in PATH; CONSEQUENCE:\n  PATH:LINE: problem ..." when any was added.
  void throw_if_any(const std::string& consequence) const;

 private:
  std::string path_;
  std::vector<std::string> shown_;
  int64_t total_ = 0;
};

/// An Error unless `path` is a regular file (or a link to one): names a
/// folder, a device, a FIFO or a socket as what it is.
void check_regular_file(const std::string& path);

/// Creates `dir` and its missing parents, remembering which it created, so
/// that undo() can remove them again when the work that needed them failed.
/// Usage: MadeDirectories made("out/a/b"); ... on failure: made.undo();
class MadeDirectories {
 public:
  explicit MadeDirectories(const std::string& dir);
  /// Removes the folders this object created, deepest first, while they are empty.
  void undo() const;

 private:
  std::vector<std::string> made_;  // outermost first
};

/// An exclusive advisory lock (flock(2)) on the file `path` (created when
/// absent), held for the object's life and released by the kernel if the
/// process dies. Two processes that train the same cached model take it so
/// that one trains and the other, after waiting, reuses the result.
/// Usage: FileLock lock(cache + ".lock", [&] { progress.print("waiting for ..."); });
class FileLock {
 public:
  /// Waits until the lock is held: `on_wait` runs once first when another
  /// process holds it; a SIGINT/SIGTERM meanwhile throws Interrupted. An
  /// Error names the file and the OS error when it cannot be opened, except
  /// in a folder this process cannot write (EACCES, EROFS): there no lock is
  /// taken, as nothing can be written there to wait for. The (empty) file is
  /// left in place: removing it would let a process that waits on the old
  /// file and one that creates a new one both hold "the" lock.
  explicit FileLock(const std::string& path, const std::function<void()>& on_wait = {});
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace laco
