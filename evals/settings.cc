#include "evals/settings.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/json_check.h"
#include "harness/base/text.h"

namespace laco {

std::string setting_flag(const std::string& key) {
  std::string f = key;
  std::replace(f.begin(), f.end(), '_', '-');
  return "--" + f;
}

std::string SettingInfo::flag() const { return setting_flag(key); }

nlohmann::json parse_settings(const JsonChecker& ck, const std::vector<SettingInfo>& settings,
                              const nlohmann::json& v, const std::string& path) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& s : settings) {
    if (!v.contains(s.key)) continue;
    const std::string p = path + "." + s.key;
    const auto& value = v[s.key];
    switch (s.kind) {
      case SettingKind::kInteger:
        out[s.key] = ck.integer(value, p, s.min, s.max);
        break;
      case SettingKind::kIntegers:
        out[s.key] = ck.integers(value, p, s.min, s.max);
        break;
      case SettingKind::kNumber:
        out[s.key] = ck.number(value, p, s.low, s.high);
        break;
      case SettingKind::kNames:
        out[s.key] = ck.names(value, p, s.names, s.key.substr(0, s.key.size() - (s.key.back() == 's')));
        break;
      case SettingKind::kString: {
        const std::string text = ck.string(value, p, s.names.empty() ? s.help : join(s.names));
        if (!s.names.empty() && std::find(s.names.begin(), s.names.end(), text) == s.names.end())
          ck.error(p, "'{}' is not available in this build (allowed: {})", text, join(s.names));
        out[s.key] = text;
        break;
      }
    }
  }
  return out;
}

nlohmann::json setting_from_flag(const SettingInfo& s, const std::string& text) {
  switch (s.kind) {
    case SettingKind::kInteger: {
      const auto v = parse_int(text);
      if (!v) fail("{}: '{}' is not a 64-bit integer", s.flag(), text);
      return *v;
    }
    case SettingKind::kIntegers: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& item : list_items(text, s.flag())) {
        const auto v = parse_int(item);
        if (!v) fail("{}: '{}' is not a 64-bit integer", s.flag(), item);
        out.push_back(*v);
      }
      return out;
    }
    case SettingKind::kNumber: {
      const auto v = parse_double(text);
      if (!v) fail("{}: '{}' is not a number", s.flag(), text);
      if (!std::isfinite(*v)) fail("{}: '{}' is not a finite number (allowed: {} to {})", s.flag(), text, s.low, s.high);
      return *v;
    }
    case SettingKind::kNames:
      return list_items(text, s.flag());
    case SettingKind::kString:
      return text;
  }
  return nullptr;
}

}  // namespace laco
