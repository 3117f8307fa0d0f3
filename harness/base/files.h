// Whole-file writes that cannot be seen half-done: the content goes to a
// temporary beside the target, is flushed, and is renamed over it. Used for
// every file laco writes as a result (reports, exported data, cached models).
#pragma once

#include <string>

namespace laco {

/// Usage: write_file_atomically("report/out/report.md", markdown);
/// An Error naming the file when it cannot be written; no temporary is left behind.
void write_file_atomically(const std::string& path, const std::string& content);

/// The whole file as bytes, or an Error naming it.
std::string read_file_bytes(const std::string& path);

}  // namespace laco
