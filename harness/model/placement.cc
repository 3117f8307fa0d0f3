#include "harness/model/placement.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {

const std::vector<std::string>& standard_placements() {
  static const std::vector<std::string> placements = {"1/12", "1/6", "1/4", "1/2", kAfterEncoder};
  return placements;
}

Placement Placement::parse(const std::string& text, const std::string& where) {
  const std::string allowed =
      fmt::format("a depth fraction in (0, 1] such as {} or 0.25, or block:K", join(standard_placements()));
  Placement p;
  p.where_ = where;
  p.label_ = text;
  if (text.rfind("block:", 0) == 0) {
    auto k = parse_int(text.substr(6));
    if (!k || *k < 1) fail("{}: '{}' is not a valid block index (allowed: {})", where, text, allowed);
    p.block_ = *k;
    return p;
  }
  std::optional<double> value;
  const auto slash = text.find('/');
  if (slash != std::string::npos) {
    auto num = parse_int(text.substr(0, slash)), den = parse_int(text.substr(slash + 1));
    if (num && den && *den != 0) value = static_cast<double>(*num) / static_cast<double>(*den);
  } else {
    value = parse_double(text);
  }
  if (!value) fail("{}: cannot read '{}' (allowed: {})", where, text, allowed);
  if (!(*value > 0.0 && *value <= 1.0)) {
    if (*value > 1.0 && std::floor(*value) == *value)
      fail("{}: '{}' is outside (0, 1]; for block index {} write block:{}", where, text, text, text);
    fail("{}: '{}' is outside (0, 1] (allowed: {})", where, text, allowed);
  }
  p.fraction_ = *value;
  return p;
}

int64_t Placement::resolve(int64_t depth) const {
  if (block_ > 0) {
    if (block_ > depth)
      fail("{}: block {} is beyond the encoder's depth (allowed: block:1 .. block:{})", where_, block_, depth);
    return block_;
  }
  return std::max<int64_t>(1, std::llround(fraction_ * static_cast<double>(depth)));
}

}  // namespace laco
