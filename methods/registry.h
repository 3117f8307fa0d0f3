// The methods by name. Usage: auto c = make_compressor("laco", CompressorOptions(C).ratio(2), {{"zero_init", "true"}});
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "harness/model/compressor.h"
#include "harness/model/mllm.h"

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
  /// How its reference initialises the weights; kReference for a method without weights.
  InitScheme reference_init = InitScheme::kReference;
  /// After the encoder (k = L) its reference is the projector itself: it maps
  /// straight to the LM width and no mlp2x_gelu follows (InternVL's mlp1,
  /// MobileVLM V2's LDPv2, TokenPacker). Methods without it are followed by mlp2x_gelu.
  bool own_projector = false;
  /// Writes out the options whose default depends on the model (fastv's
  /// after_layer), so that a run's options, and its key, say what ran. Empty: none does.
  std::function<void(MethodOptions&, const MllmOptions&)> complete_options;
  /// Where it acts (CompressorImpl::site(), the class's kSite): sweeps place
  /// a method inside the LM after the encoder only.
  MethodSite site = MethodSite::kAfterBlock;
  /// The uncompressed reference (none): the ceiling every table compares
  /// against and never ranks; neither where it sits nor the ratio changes
  /// it, so a sweep runs it once per seed. Exactly one method has it.
  bool reference = false;

  bool has_weights() const { return reference_init != InitScheme::kReference; }

  std::vector<std::string> option_keys() const;
};

/// Every method, in the order tables list them.
const std::vector<MethodInfo>& method_registry();
std::vector<std::string> method_names();
/// The methods that act at `site`, in registry order.
std::vector<std::string> method_names(MethodSite site);
/// The method called `name`, or an Error listing the allowed names.
const MethodInfo& find_method(const std::string& name);
/// The method called `name`, or null (a stored run may name a method this build lacks).
const MethodInfo* lookup_method(const std::string& name);
/// The reference method (MethodInfo::reference).
const MethodInfo& reference_method();
/// Whether `method` (a name, or a label with options such as "laco[zero_init=true]") is the reference.
bool is_reference_method(const std::string& method);

Compressor make_compressor(const std::string& name, const CompressorOptions& options,
                           const MethodOptions& method_options = {});

}  // namespace laco
