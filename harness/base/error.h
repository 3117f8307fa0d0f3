// One exception type for every user-facing failure. Messages carry their
// context (file, field, allowed values); the CLI catches them once.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/core.h>

namespace laco {

/// A failure the user can act on: bad input, bad configuration, bad file.
/// Usage: throw Error(fmt::format("{}: field '{}' must be ...", path, key));
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws laco::Error with a formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace laco
