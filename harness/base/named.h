// Registries of named things (methods, evaluations, presets): the list of
// their names for messages, and a look-up whose error lists them.
#pragma once

#include <string>
#include <vector>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {

/// The `name` of every item, in registry order.
template <typename T>
std::vector<std::string> names_of(const std::vector<T>& items) {
  std::vector<std::string> names;
  for (const auto& item : items) names.push_back(item.name);
  return names;
}

/// The item called `name`, or an Error "<where>: unknown <what> 'x' (allowed: a, b)"
/// (without "<where>: " when `where` is empty).
template <typename T>
const T& find_named(const std::vector<T>& items, const std::string& name, const std::string& what,
                    const std::string& where = "") {
  for (const auto& item : items)
    if (item.name == name) return item;
  fail("{}unknown {} '{}' (allowed: {})", where.empty() ? "" : where + ": ", what, name, join(names_of(items)));
}

}  // namespace laco
