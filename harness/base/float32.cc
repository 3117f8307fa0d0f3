#include "harness/base/float32.h"

#include <algorithm>
#include <limits>

namespace laco {

double float32_tolerance(int64_t depth, double scale) {
  const double nu = static_cast<double>(std::max<int64_t>(depth, 1)) * kFloat32Roundoff;
  if (nu >= 1) return std::numeric_limits<double>::infinity();
  return 2 * nu / (1 - nu) * scale;
}

}  // namespace laco
