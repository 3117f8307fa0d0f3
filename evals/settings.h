// An evaluation's own settings, each described once: its name (the key of a
// sweep spec's section; with '-' for '_' the `laco run` flag), its kind, its
// range or allowed names, and its help. The section's checks, the flag, its
// parsing and its help all read the same entry (evals/registry.h lists them
// per evaluation); the resolution into a typed run reads the checked JSON.
//
//   {"reps", SettingKind::kInteger, 1, 1000000, 0, 0, {}, "Timed runs per measurement"}
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco {

class JsonChecker;

enum class SettingKind {
  kInteger,   ///< an integer in [min, max]
  kIntegers,  ///< distinct integers in [min, max], sorted (a flag: comma-separated)
  kNumber,    ///< a number in [min, max]
  kString,    ///< a string; with `names`, one of them
  kNames,     ///< distinct names from `names` (a flag: comma-separated)
};

struct SettingInfo {
  std::string key;
  SettingKind kind = SettingKind::kInteger;
  int64_t min = 0, max = 0;  ///< kInteger, kIntegers
  double low = 0, high = 0;   ///< kNumber
  std::vector<std::string> names;  ///< kNames; kString: the allowed values (empty: any)
  std::string help;

  /// "--text-tokens" for text_tokens (setting_flag).
  std::string flag() const;
};

/// The `laco run` flag of a setting's key: steps0 -> --steps0, text_tokens -> --text-tokens.
std::string setting_flag(const std::string& key);

/// Checks the settings of `section` that `settings` describe (other keys are
/// the caller's) and returns them as checked JSON. Errors name the file (or
/// the flag, with JsonChecker::for_flags), the JSON path and the allowed values.
nlohmann::json parse_settings(const JsonChecker& check, const std::vector<SettingInfo>& settings,
                              const nlohmann::json& section, const std::string& path);
/// The JSON value of a flag's text, by the setting's kind (ranges are
/// parse_settings's): an Error naming the flag when it is not of that kind.
nlohmann::json setting_from_flag(const SettingInfo& setting, const std::string& text);

}  // namespace laco
