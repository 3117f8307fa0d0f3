#include "methods/fastv.h"

#include <algorithm>
#include <string>

#include "harness/base/error.h"

namespace laco {

FastVImpl::FastVImpl(CompressorOptions options, int64_t after_layer)
    : TokenReductionImpl("fastv", std::move(options)), after_layer_(after_layer) {
  if (after_layer_ < 1) fail("method 'fastv': option 'after_layer' must be >= 1 (an LM layer), got {}", after_layer_);
}

LmPrune FastVImpl::lm_prune(Grid in, int64_t crops) const {
  return {after_layer_, 0, crops * in.tokens(), crops * budget(in)};
}

MethodInfo fastv_method() {
  MethodInfo info;
  info.name = "fastv";
  info.summary = "FastV inside the LM: after layer K keep the visual tokens the last prompt position attends to most";
  info.options = {{"after_layer",
                   "the LM layer K after which it prunes (1..layers - 1; default 2, FastV's, or layers - 1 for an LM of "
                   "2 layers or fewer)"}};
  info.site = FastVImpl::kSite;
  info.complete_options = [](MethodOptions& o, const MllmOptions& model) {
    // FastV's K = 2, or the last layer but one of an LM with no more than 2 (the accuracy presets').
    if (!o.count("after_layer"))
      o["after_layer"] = std::to_string(std::min(FastVImpl::kDefaultAfterLayer, model.lm.layers() - 1));
  };
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    const OptionReader read("fastv", mo, {"after_layer"});
    return std::make_shared<FastVImpl>(o, read.get_int("after_layer", FastVImpl::kDefaultAfterLayer));
  };
  return info;
}

}  // namespace laco
