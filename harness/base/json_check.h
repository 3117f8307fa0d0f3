// Strict checks of user-written JSON (sweep specs and their sections) with
// messages of one shape: "FILE: $.json.path: problem (allowed: ...)".
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/base/error.h"
#include "harness/base/limits.h"

namespace laco {

/// How deep arrays and objects may nest in JSON laco reads (specs, safetensors
/// headers, data lines, stored configurations). Deeper input is refused before
/// it is parsed: printing or destroying such a value recurses that deep and
/// overflows the stack (a 100 000-deep spec was a SIGSEGV).
constexpr int kMaxJsonDepth = 64;

/// Parses `text` into `out`; returns "" or the problem ("nested deeper than
/// 64 levels ...", "duplicate key ..." or the parser's message), for the
/// caller to put in its error. A key repeated in one object is refused: JSON
/// parsers disagree on which value wins (nlohmann keeps the last), so a spec
/// with `"threads"` twice would silently run with one of them.
std::string parse_json(std::string_view text, nlohmann::json& out);

/// A whole JSON file (read within `limit`, parsed by parse_json), or an Error
/// "PATH: not valid JSON: problem". Usage: const auto j = read_json_file(dir + "/config.json");
nlohmann::json read_json_file(const std::string& path, InputLimit limit = InputLimit::kFileBytes);

/// Usage: JsonChecker ck("sweeps/x.json"); ck.object(spec, "$", {"name", "grids"}); ck.integer(v, "$.threads", 1, 64);
class JsonChecker {
 public:
  explicit JsonChecker(std::string file) : file_(std::move(file)) {}
  /// For settings given as command-line flags: errors name the flag
  /// ("--text-tokens: ...") instead of a file and a JSON path ("$.text_tokens").
  static JsonChecker for_flags() {
    JsonChecker ck("command line");
    ck.flags_ = true;
    return ck;
  }
  const std::string& file() const { return file_; }

  template <typename... Args>
  [[noreturn]] void error(const std::string& path, fmt::format_string<Args...> format, Args&&... args) const {
    if (flags_) fail("{}: {}", flag_of(path), fmt::format(format, std::forward<Args>(args)...));
    fail("{}: {}: {}", file_, path, fmt::format(format, std::forward<Args>(args)...));
  }

  /// "array [1,2,3]": the type and at most 40 characters of the value.
  std::string describe(const nlohmann::json& v) const;
  /// An object whose keys are all in `allowed`.
  const nlohmann::json& object(const nlohmann::json& v, const std::string& path,
                               const std::vector<std::string>& allowed) const;
  /// A non-empty array.
  const nlohmann::json& array(const nlohmann::json& v, const std::string& path, const std::string& allowed) const;
  std::string string(const nlohmann::json& v, const std::string& path, const std::string& allowed = "a string") const;
  /// An integer in [min, max]; `what` replaces "an integer in [min, max]" in
  /// messages. Values beyond 64 bits are refused, never clamped.
  int64_t integer(const nlohmann::json& v, const std::string& path, int64_t min, int64_t max,
                  const std::string& what = "") const;
  /// A finite number (integer or not) in [min, max].
  double number(const nlohmann::json& v, const std::string& path, double min, double max) const;
  /// A non-empty array of distinct integers, each in [min, max], sorted ascending.
  std::vector<int64_t> integers(const nlohmann::json& v, const std::string& path, int64_t min, int64_t max) const;
  /// A non-empty array of distinct strings, each one of `allowed`.
  std::vector<std::string> names(const nlohmann::json& v, const std::string& path,
                                 const std::vector<std::string>& allowed, const std::string& what) const;

  /// An error when `item` is already in `seen`; `text` names the item, `base` the array's path.
  template <typename T>
  void unique(const std::vector<T>& seen, const T& item, const std::string& path, const std::string& text,
              const std::string& base) const {
    auto it = std::find(seen.begin(), seen.end(), item);
    if (it != seen.end()) error(path, "{} repeats {}[{}]", text, base, it - seen.begin());
  }

 private:
  /// "$.a.text_tokens" -> "--text-tokens"; "$.stages[1]" -> "--stages".
  static std::string flag_of(const std::string& path);

  std::string file_;
  bool flags_ = false;
};

}  // namespace laco
