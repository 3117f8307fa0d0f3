#include "harness/base/build_info.h"

#include <sstream>

#include "laco_build_stamp.h"

namespace laco {

std::string build_commit() { return LACO_BUILD_COMMIT; }

std::optional<bool> build_dirty() {
  if (LACO_BUILD_DIRTY < 0) return std::nullopt;
  return LACO_BUILD_DIRTY != 0;
}

std::string commit_label(const std::string& commit, std::optional<bool> dirty) {
  return (commit.empty() ? std::string("unknown") : commit) + (dirty.value_or(false) ? "+dirty" : "");
}

std::vector<std::string> stage0_sources() {
  std::vector<std::string> out;
  std::istringstream in(LACO_STAGE0_SOURCES);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

std::string stage0_sources_sha256() { return LACO_STAGE0_SOURCES_SHA256; }

std::string build_version() { return commit_label(build_commit(), build_dirty()); }

}  // namespace laco
