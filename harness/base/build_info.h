// What this binary was built from, stamped at every build by
// cmake/git_stamp.cmake, for provenance, --version and the stage-0 cache key.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace laco {

/// The git commit (12 hex digits), or "unknown" outside a git checkout.
std::string build_commit();
/// Whether the checkout had changes not committed (tracked or untracked,
/// ignored files aside) when this binary was built; nullopt when unknown.
std::optional<bool> build_dirty();
/// "0123456789ab", "0123456789ab+dirty" or "unknown": this build's commit_label().
std::string build_version();
/// The sources that determine what stage 0 of the accuracy evaluation learns
/// (LACO_STAGE0_SOURCES in CMakeLists.txt, paths below the source folder) and
/// the SHA-256 (64 hex digits) of "PATH\nSHA256-OF-ITS-CONTENT\n" over them, as
/// they were when this binary was built.
std::vector<std::string> stage0_sources();
std::string stage0_sources_sha256();
/// How a commit is written everywhere (provenance, --version, report notes):
/// the commit, "+dirty" when the tree had uncommitted changes, "unknown" when empty.
std::string commit_label(const std::string& commit, std::optional<bool> dirty);

}  // namespace laco
