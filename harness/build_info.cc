#include "harness/build_info.h"

#include "laco_build_stamp.h"

namespace laco {

std::string build_commit() { return LACO_BUILD_COMMIT; }

std::optional<bool> build_dirty() {
  if (LACO_BUILD_DIRTY < 0) return std::nullopt;
  return LACO_BUILD_DIRTY != 0;
}

std::string build_version() {
  const auto dirty = build_dirty();
  return build_commit() + (dirty && *dirty ? "-dirty" : "");
}

}  // namespace laco
