// Small text helpers for messages and for parsing option values strictly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace laco {

/// "a, b, c" for messages that list the allowed values.
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");
/// "a,b,,c" -> {a, b, c}: a comma-separated flag value, empty items dropped.
std::vector<std::string> split_list(const std::string& text);
/// split_list for a flag's value: an Error naming `flag` when an item is
/// empty ("1/4,,1", a trailing comma), which split_list would drop unseen;
/// an empty value is no item.
std::vector<std::string> list_items(const std::string& text, const std::string& flag);

/// Whole-string parses: "12x" or "" give nullopt, never a partial value.
std::optional<int64_t> parse_int(const std::string& text);
std::optional<double> parse_double(const std::string& text);
/// true/false, 1/0, on/off.
std::optional<bool> parse_bool(const std::string& text);

}  // namespace laco
