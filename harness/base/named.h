// Registries of named things (methods, evaluations, presets, the values of
// an enum): the list of their names for messages, and a look-up whose error
// lists them.
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

/// The item called `name`, or null.
template <typename T>
const T* lookup_named(const std::vector<T>& items, const std::string& name) {
  for (const auto& item : items)
    if (item.name == name) return &item;
  return nullptr;
}

/// The item called `name`, or an Error "<where>: unknown <what> 'x' (allowed: a, b)"
/// (without "<where>: " when `where` is empty).
template <typename T>
const T& find_named(const std::vector<T>& items, const std::string& name, const std::string& what,
                    const std::string& where = "") {
  if (const T* item = lookup_named(items, name)) return *item;
  fail("{}unknown {} '{}' (allowed: {})", where.empty() ? "" : where + ": ", what, name, join(names_of(items)));
}

/// One value of an enum and the name users give it: a table of them parses
/// (find_named), lists (names_of) and prints (name_of) the enum in one place.
template <typename E>
struct NamedValue {
  std::string name;
  E value;
};

/// The name of `value` in `table` ("?" for a value the table lacks).
template <typename E>
const std::string& name_of(const std::vector<NamedValue<E>>& table, E value) {
  static const std::string unknown = "?";
  for (const auto& item : table)
    if (item.value == value) return item.name;
  return unknown;
}

}  // namespace laco
