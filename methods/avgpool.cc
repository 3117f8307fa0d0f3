#include "methods/avgpool.h"

#include <torch/torch.h>

#include "harness/base/error.h"
#include "methods/laco_pack_cpu.h"

namespace laco {

AvgPoolImpl::AvgPoolImpl(CompressorOptions options) : CompressorImpl("avgpool", std::move(options)) {
  if (options_.resolved_out_dim() != options_.dim())
    fail("method 'avgpool' has no weights: out_dim must equal dim ({}), got {}", options_.dim(), options_.out_dim());
}

torch::Tensor AvgPoolImpl::compress_fused(const torch::Tensor& x, Grid grid) {
  // The fused pack (methods/laco_pack.h): compress()'s result (A within float32 rounding).
  if (!laco_pack_applies(x, grid, ratio(), options_.grid_policy())) return {};
  const LacoPacked p = laco_pack_cpu(x, grid, ratio(), kPackA);
  return p.a;
}

torch::Tensor AvgPoolImpl::compress(const torch::Tensor& x, const WorkGrid& grid, const std::vector<torch::Tensor>&) {
  // The same reduction as laco's shortcut, so that laco with zero_init equals
  // avgpool bit for bit; AvgPool.EqualsAvgPool2d checks it independently.
  // Under `pad` a border window averages its valid tokens only.
  const int64_t r = ratio();
  return window_mean(space_to_channel(x, grid.work, r), grid, r);
}

double AvgPoolImpl::flops(Grid in) const {
  return static_cast<double>(work_grid(in).tokens() * options_.dim());
}

MethodInfo avgpool_method() {
  MethodInfo info;
  info.name = "avgpool";
  info.summary = "r x r average pooling; non-parametric (the LaCo shortcut alone)";
  info.make = [](const CompressorOptions& o, const MethodOptions& mo) -> Compressor {
    OptionReader("avgpool", mo, {});
    return std::make_shared<AvgPoolImpl>(o);
  };
  return info;
}

}  // namespace laco
