#include "methods/laco_pack_cpu.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/model/compressor.h"
#include "methods/laco_pack.h"

namespace laco {

bool laco_pack_applies(const torch::Tensor& x, Grid grid, int64_t r, GridPolicy policy) {
  const bool divisible = grid.h % r == 0 && grid.w % r == 0;
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
         !(torch::GradMode::is_enabled() && x.requires_grad()) && (divisible || policy == GridPolicy::kPad);
}

LacoPacked laco_pack_cpu(const torch::Tensor& x, Grid grid, int64_t r, int outputs, const LacoPacked& into) {
  if (x.dim() != 3 || x.size(1) != grid.tokens())
    fail("laco_pack: x must be [B, {}, C] for grid {}, got {}", grid.tokens(), grid.str(),
         fmt::format("[{}]", fmt::join(x.sizes(), ", ")));
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32) fail("laco_pack: x must be float32 on the CPU");
  check_ratio(r, "laco_pack");
  if ((outputs & (kPackS | kPackA)) == 0) fail("laco_pack: nothing to write (outputs must include kPackS or kPackA)");
  const auto in = x.contiguous();
  const LacoPackShape shape = laco_pack_shape(in.size(0), grid.h, grid.w, in.size(2), r);
  auto output = [&](const torch::Tensor& given, std::vector<int64_t> sizes, const char* name) {
    if (!given.defined()) return torch::empty(sizes, in.options());
    if (given.sizes() != c10::IntArrayRef(sizes) || given.scalar_type() != torch::kFloat32 || !given.is_contiguous() ||
        !given.device().is_cpu())
      fail("laco_pack: the given {} must be a contiguous float32 CPU tensor [{}]", name, fmt::join(sizes, ", "));
    return given;
  };
  LacoPacked out;
  if (outputs & kPackS) out.s = output(into.s, {shape.batch, shape.oh * shape.ow, r * r * shape.channels}, "S");
  if (outputs & kPackA) out.a = output(into.a, {shape.batch, shape.oh * shape.ow, shape.channels}, "A");
  const float* src = in.data_ptr<float>();
  float* s = out.s.defined() ? out.s.data_ptr<float>() : nullptr;
  float* a = out.a.defined() ? out.a.data_ptr<float>() : nullptr;
  // Each output token reads r^2 C floats; a task takes about 1 M of them. Waking
  // a second (passively waiting) OpenMP thread costs more than a small pack
  // takes: laco_bench laco_pack, r = 2, 5 crops, cpu-small (0.25 M floats)
  // 0.104 ms split in two against 0.085 ms on one thread (2026-12-02); paper
  // (4.5 M floats) 2.25 ms split (2026-12-02) against 3.21 ms on one (2026-12-01).
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 20) / (r * r * shape.channels));
  at::parallel_for(0, shape.out_tokens(), grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) laco_pack_token(src, s, a, shape, t, 0, shape.channels);
  });
  return out;
}

}  // namespace laco
