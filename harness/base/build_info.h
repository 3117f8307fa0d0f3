// What this binary was built from, stamped at every build by
// cmake/git_stamp.cmake, for provenance and --version.
#pragma once

#include <optional>
#include <string>

namespace laco {

/// The git commit (12 hex digits), or "unknown" outside a git checkout.
std::string build_commit();
/// Whether the checkout had changes not committed (tracked or untracked,
/// ignored files aside) when this binary was built; nullopt when unknown.
std::optional<bool> build_dirty();
/// "0123456789ab", "0123456789ab+dirty" or "unknown": this build's commit_label().
std::string build_version();
/// How a commit is written everywhere (provenance, --version, report notes):
/// the commit, "+dirty" when the tree had uncommitted changes, "unknown" when empty.
std::string commit_label(const std::string& commit, std::optional<bool> dirty);

}  // namespace laco
