#include "harness/base/json_check.h"

#include <algorithm>
#include <set>

#include "harness/base/files.h"
#include "harness/base/text.h"

namespace laco {

using nlohmann::json;

std::string parse_json(std::string_view text, json& out) {
  // Depth of [ and { outside strings, before the parser builds anything.
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        return fmt::format("arrays and objects nested deeper than {} levels (allowed: at most {})", kMaxJsonDepth,
                           kMaxJsonDepth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  // Keys seen so far in each open object (arrays hold an empty marker), and
  // the JSON path to each level, for the message.
  struct Level {
    bool object = false;
    std::set<std::string> keys;
    size_t index = 0;
  };
  std::vector<Level> levels;
  std::vector<std::string> path = {"$"};
  std::string duplicate;
  auto here = [&] {
    std::string p;
    for (const auto& part : path) p += part;
    return p;
  };
  auto enter_value = [&] {  // a value begins at the current level: name it in the path
    if (!levels.empty() && !levels.back().object) path.push_back(fmt::format("[{}]", levels.back().index++));
  };
  auto leave_value = [&] {
    if (!levels.empty() && path.size() > 1) path.pop_back();
  };
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    if (!duplicate.empty()) return true;
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        enter_value();
        levels.push_back({event == json::parse_event_t::object_start, {}, 0});
        break;
      case json::parse_event_t::key: {
        auto& keys = levels.back().keys;
        const auto key = parsed.get<std::string>();
        path.push_back("." + key);
        if (!keys.insert(key).second)
          duplicate = fmt::format("{}: duplicate key '{}' (allowed: each key once per object)", here(), key);
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        levels.pop_back();
        leave_value();
        break;
      case json::parse_event_t::value:
        enter_value();
        leave_value();
        break;
    }
    return true;
  };
  try {
    out = json::parse(text.begin(), text.end(), callback);
  } catch (const json::parse_error& e) {
    return e.what();
  }
  return duplicate;
}

namespace {

// Appends v's JSON text to `out` until it holds `limit` characters: a message
// shows the start of a value without serialising all of it.
void preview(const json& v, std::string& out, size_t limit) {
  if (out.size() >= limit) return;
  if (v.is_array() || v.is_object()) {
    out += v.is_array() ? '[' : '{';
    bool first = true;
    for (auto it = v.begin(); it != v.end() && out.size() < limit; ++it) {
      if (!first) out += ',';
      first = false;
      if (v.is_object()) out += json(it.key()).dump() + ':';
      preview(*it, out, limit);
    }
    out += v.is_array() ? ']' : '}';
  } else {
    std::string text = v.dump();
    out += text.size() > limit ? text.substr(0, limit) : text;
  }
}

}  // namespace

std::string JsonChecker::describe(const json& v) const {
  std::string text;
  preview(v, text, 41);
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

int64_t JsonChecker::integer(const json& v, const std::string& path, int64_t min, int64_t max,
                             const std::string& what) const {
  const std::string allowed = what.empty() ? fmt::format("an integer in [{}, {}]", min, max) : what;
  if (!v.is_number_integer()) error(path, "expected an integer, got {} (allowed: {})", describe(v), allowed);
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    error(path, "{} is too large (allowed: {})", v.get<uint64_t>(), allowed);
  const int64_t x = v.get<int64_t>();
  if (x < min) error(path, "{} is too small (allowed: {})", x, allowed);
  if (x > max) error(path, "{} is too large (allowed: {})", x, allowed);
  return x;
}

double JsonChecker::number(const json& v, const std::string& path, double min, double max) const {
  const std::string allowed = fmt::format("a number in [{}, {}]", min, max);
  if (!v.is_number()) error(path, "expected a number, got {} (allowed: {})", describe(v), allowed);
  const double x = v.get<double>();
  if (!(x >= min && x <= max)) error(path, "{} is out of range (allowed: {})", v.dump(), allowed);
  return x;
}

std::vector<int64_t> JsonChecker::integers(const json& v, const std::string& path, int64_t min, int64_t max) const {
  array(v, path, fmt::format("integers in [{}, {}]", min, max));
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", path, i);
    const int64_t x = integer(v[i], at, min, max);
    unique(out, x, at, std::to_string(x), path);
    out.push_back(x);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string JsonChecker::flag_of(const std::string& path) {
  std::string key = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  key = key.substr(0, key.find('['));  // "$.stages[1]" is the flag --stages
  std::replace(key.begin(), key.end(), '_', '-');
  return "--" + key;
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

nlohmann::json read_json_file(const std::string& path, InputLimit limit) {
  nlohmann::json j;
  const std::string problem = parse_json(read_file_bytes(path, limit), j);
  if (!problem.empty()) fail("{}: not valid JSON: {}", path, problem);
  return j;
}

}  // namespace laco
