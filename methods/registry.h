// The methods by name. Usage: auto c = make_compressor("laco", CompressorOptions(C).ratio(2), {{"zero_init", "true"}});
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "harness/model/compressor.h"

namespace laco {

/// One registered method: how to build it for the harness and, where a
/// public reference exists, in the reference's native configuration.
struct MethodInfo {
  std::string name;
  std::string summary;
  /// Method-specific option keys with a one-line description each.
  std::vector<std::pair<std::string, std::string>> options;
  std::function<Compressor(const CompressorOptions&, const MethodOptions&)> make;
  /// Empty when the method has no weights to check against a reference.
  std::function<Compressor(const ReferenceConfig&)> make_reference;

  std::vector<std::string> option_keys() const;
};

/// Every method, in the order tables list them.
const std::vector<MethodInfo>& method_registry();
std::vector<std::string> method_names();
/// The method called `name`, or an Error listing the allowed names.
const MethodInfo& find_method(const std::string& name);

Compressor make_compressor(const std::string& name, const CompressorOptions& options,
                           const MethodOptions& method_options = {});

}  // namespace laco
