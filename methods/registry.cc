#include "methods/registry.h"

#include "harness/base/error.h"
#include "harness/base/named.h"
#include "harness/base/text.h"
#include "methods/avgpool.h"
#include "methods/evit.h"
#include "methods/fastv.h"
#include "methods/laco.h"
#include "methods/ldpv2.h"
#include "methods/none.h"
#include "methods/pixel_shuffle.h"
#include "methods/tokenpacker.h"
#include "methods/tome.h"

namespace laco {

std::vector<std::string> MethodInfo::option_keys() const {
  std::vector<std::string> keys;
  for (const auto& kv : options) keys.push_back(kv.first);
  return keys;
}

const std::vector<MethodInfo>& method_registry() {
  static const std::vector<MethodInfo> registry = {
      none_method(), avgpool_method(), pixel_shuffle_method(), laco_method(), ldpv2_method(), tokenpacker_method(),
      tome_method(), evit_method(), fastv_method(),
  };
  return registry;
}

std::vector<std::string> method_names() { return names_of(method_registry()); }

std::vector<std::string> method_names(MethodSite site) {
  std::vector<std::string> names;
  for (const auto& m : method_registry())
    if (m.site == site) names.push_back(m.name);
  return names;
}

const MethodInfo& find_method(const std::string& name) { return find_named(method_registry(), name, "method"); }

const MethodInfo* lookup_method(const std::string& name) { return lookup_named(method_registry(), name); }

const MethodInfo& reference_method() {
  static const MethodInfo& reference = [&]() -> const MethodInfo& {
    const MethodInfo* found = nullptr;
    for (const auto& m : method_registry())
      if (m.reference) {
        if (found) fail("method registry: {} and {} are both the reference (allowed: one)", found->name, m.name);
        found = &m;
      }
    if (!found) fail("method registry: no method is the reference (allowed: exactly one, MethodInfo::reference)");
    return *found;
  }();
  return reference;
}

bool is_reference_method(const std::string& method) {
  return method.substr(0, method.find_first_of("{[")) == reference_method().name;
}

Compressor make_compressor(const std::string& name, const CompressorOptions& options,
                           const MethodOptions& method_options) {
  return find_method(name).make(options, method_options);
}

}  // namespace laco
