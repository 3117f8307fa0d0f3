#include "harness/base/json_check.h"

#include "harness/base/text.h"

namespace laco {

using nlohmann::json;

std::string JsonChecker::describe(const json& v) const {
  std::string text = v.dump();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return fmt::format("{} {}", v.type_name(), text);
}

const json& JsonChecker::object(const json& v, const std::string& path, const std::vector<std::string>& allowed) const {
  if (!v.is_object()) error(path, "expected an object, got {}", describe(v));
  for (const auto& [key, value] : v.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      error(path + "." + key, "unknown key (allowed: {})", join(allowed));
  return v;
}

const json& JsonChecker::array(const json& v, const std::string& path, const std::string& allowed) const {
  if (!v.is_array()) error(path, "expected an array, got {} (allowed: {})", describe(v), allowed);
  if (v.empty()) error(path, "empty (allowed: {})", allowed);
  return v;
}

std::string JsonChecker::string(const json& v, const std::string& path, const std::string& allowed) const {
  if (!v.is_string()) error(path, "expected a string, got {} (allowed: {})", describe(v), allowed);
  return v.get<std::string>();
}

int64_t JsonChecker::integer(const json& v, const std::string& path, int64_t min, const std::string& what) const {
  const std::string allowed = what.empty() ? fmt::format("an integer >= {}", min) : what;
  if (!v.is_number_integer()) error(path, "expected an integer, got {} (allowed: {})", describe(v), allowed);
  const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? INT64_MAX : v.get<int64_t>();
  if (x < min) error(path, "{} is too small (allowed: {})", x, allowed);
  return x;
}

std::vector<std::string> JsonChecker::names(const json& v, const std::string& path,
                                            const std::vector<std::string>& allowed, const std::string& what) const {
  std::vector<std::string> out;
  array(v, path, "one or more of " + join(allowed));
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path, i);
    const auto name = string(v[i], p, join(allowed));
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end())
      error(p, "unknown {} '{}' (allowed: {})", what, name, join(allowed));
    unique(out, name, p, "'" + name + "'", path);
    out.push_back(name);
  }
  return out;
}

}  // namespace laco
