#include "harness/print/number.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace laco {
namespace {

// Units whose values are counted: an integral value prints without decimals.
bool counted(const std::string& unit) {
  static const char* const kCounts[] = {"tokens", "runs", "seeds", "questions", "samples", "steps", "requests", "images"};
  return std::any_of(std::begin(kCounts), std::end(kCounts), [&](const char* u) { return unit == u; });
}

}  // namespace

std::string format_number(double v, const std::string& unit) {
  if (!std::isfinite(v)) return fmt::format("{}", v);
  const double a = std::fabs(v);
  if (counted(unit) && std::floor(v) == v && a < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  if (a != 0 && (a >= 1e7 || a < 1e-3)) return fmt::format("{:.4g}", v);
  if (a >= 100 || std::floor(v) == v) return fmt::format("{:.1f}", v);
  return fmt::format("{:.4g}", v);
}

std::string format_fixed(double v, int decimals) {
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0.0"
  return s;
}

std::string format_value(const PrintValue& v, const std::string& unit) {
  if (std::holds_alternative<std::monostate>(v)) return "-";
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return format_number(*d, unit);
  return std::get<std::string>(v);
}

std::string exact_value(const PrintValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);  // shortest round-trip form
  return std::get<std::string>(v);
}

}  // namespace laco
