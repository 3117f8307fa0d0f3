// Where a compressor sits: a depth fraction ("1/4", "0.25", "1" = after the
// last block) or a block index ("block:7"), resolved against an encoder depth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco {

/// After the encoder's last block: the external placement, where compressors usually sit.
inline const std::string kAfterEncoder = "1";
/// The paper's placements, shallow to deep, the last after the encoder: 1/12, 1/6, 1/4, 1/2, 1.
const std::vector<std::string>& standard_placements();

/// Usage: auto p = Placement::parse("1/4"); int64_t k = p.resolve(26);  // 7
class Placement {
 public:
  /// "a/b" or a decimal in (0, 1] is a fraction; "block:K" a 1-based index.
  /// `where` names the source (a flag, a spec field) in errors.
  static Placement parse(const std::string& text, const std::string& where = "placement");

  /// k in 1..depth: max(1, round(f * depth)) for fractions; errors past the depth.
  int64_t resolve(int64_t depth) const;
  /// The depth fraction (for block:K, K / depth): orders placements across presets.
  double fraction(int64_t depth) const {
    return block_ > 0 ? static_cast<double>(block_) / static_cast<double>(depth) : fraction_;
  }
  /// The text it was given or an equivalent canonical one ("1/4", "block:7").
  const std::string& label() const { return label_; }

 private:
  double fraction_ = 1.0;
  int64_t block_ = 0;
  std::string label_ = "1";
  std::string where_ = "placement";
};

}  // namespace laco
