// Whole-file writes that cannot be seen half-done, and sets of files that are
// replaced together. Content goes to a temporary on the same file system, is
// written with write(2) and fsync(2) so that a full disk or a quota is noticed
// there (a buffered ofstream reported a full disk only as "write failed", and
// left a partial temporary behind), and is renamed into place. Every error
// names the file and the operating system's reason ("No space left on
// device"); nothing partial is left behind.
#pragma once

#include <string>
#include <utility>
#include <vector>

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

/// The whole file as bytes, or an Error naming it and the OS error (a folder
/// is named as a folder, not read as an empty file).
std::string read_file_bytes(const std::string& path);

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

}  // namespace laco
