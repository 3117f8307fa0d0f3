#include "methods/registry.h"

#include "harness/error.h"
#include "harness/placement.h"
#include "harness/text.h"
#include "methods/avgpool.h"
#include "methods/laco.h"
#include "methods/ldpv2.h"
#include "methods/none.h"
#include "methods/pixel_shuffle.h"
#include "methods/tokenpacker.h"

namespace laco {

std::vector<std::string> MethodInfo::option_keys() const {
  std::vector<std::string> keys;
  for (const auto& kv : options) keys.push_back(kv.first);
  return keys;
}

const std::vector<MethodInfo>& method_registry() {
  static const std::vector<MethodInfo> registry = {
      none_method(), avgpool_method(), pixel_shuffle_method(), laco_method(), ldpv2_method(), tokenpacker_method(),
  };
  return registry;
}

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : method_registry()) names.push_back(m.name);
  return names;
}

const MethodInfo& find_method(const std::string& name) {
  for (const auto& m : method_registry())
    if (m.name == name) return m;
  fail("unknown method '{}' (allowed: {})", name, join(method_names()));
}

Compressor make_compressor(const std::string& name, const CompressorOptions& options,
                           const MethodOptions& method_options) {
  return find_method(name).make(options, method_options);
}

nlohmann::json resolve_method_placement(const std::string& method, const MethodOptions& options,
                                        const std::string& layer, int64_t ratio, GridPolicy policy,
                                        const EncoderOptions& encoder) {
  const int64_t depth = encoder.depth();
  const int64_t k = Placement::parse(layer, "--layer").resolve(depth);
  const auto compressor =
      make_compressor(method, CompressorOptions(encoder.width()).ratio(ratio).grid_policy(policy).block(k), options);
  const Grid grid = encoder.grid();
  compressor->check_input_grid(grid);
  return {{"method", method},
          {"method_options", nlohmann::json(options)},
          {"layer", layer},
          {"block_k", k},
          {"depth", depth},
          {"ratio", ratio},
          {"grid_policy", to_string(policy)},
          {"grid_in", grid.str()},
          {"grid_out", compressor->output_grid(grid).str()}};
}

}  // namespace laco
