#include "cli/demo.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include <torch/torch.h>

#include "harness/base/threads.h"
#include "harness/model/attention.h"
#include "harness/model/placement.h"
#include "methods/registry.h"

namespace laco {

PrintTable run_demo(const DemoOptions& o) {
  set_threads(static_cast<int>(o.threads));
  torch::manual_seed(o.seed);
  torch::NoGradGuard no_grad;
  const int64_t depth = o.encoder.depth();
  const int64_t k = Placement::parse(o.placement, "--placement").resolve(depth);
  const Grid grid = o.encoder.grid();
  auto images = torch::randn({o.batch, o.encoder.channels(), o.encoder.image_size(), o.encoder.image_size()});

  PrintTable t;
  t.title = fmt::format(
      "encoder: {}x{} px, patch {}, grid {}, width {}, depth {}, heads {}; compressor after block k = {} "
      "(placement {}); r = {}; grid policy {}; batch {}; threads {}; attention {}\n\n",
      o.encoder.image_size(), o.encoder.image_size(), o.encoder.patch_size(), grid.str(), o.encoder.width(), depth,
      o.encoder.heads(), k, o.placement, o.ratio, to_string(o.grid_policy), o.batch, describe_threads(), attention_backend());
  t.columns = {{"method"}, {"grid out", "", Align::kRight}, {"tokens out", "tokens"}, {"reduction", "x"},
               {"params (comp.)"}, {"fwd (median of 3)", "ms"}};
  for (const auto& info : method_registry()) {
    if (info.site == MethodSite::kInLm) continue;  // it acts inside the LM; the demo runs an encoder alone
    VisionEncoder enc(o.encoder);
    auto c = info.make(CompressorOptions(o.encoder.width())
                           .ratio(o.ratio)
                           .grid_policy(o.grid_policy)
                           .block(k)
                           .depth(depth)
                           .heads(o.encoder.heads()),
                       {});
    enc->set_compressor(c, k);
    enc->eval();
    int64_t params = 0;
    for (const auto& p : c->parameters()) params += p.numel();
    auto result = enc->forward(images);  // warm-up: first-touch allocations
    std::vector<double> times;
    for (int rep = 0; rep < 3; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      enc->forward(images);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    const double ms = times[1];
    t.add({info.name, result.grid.str(), result.grid.tokens(),
           static_cast<double>(grid.tokens()) / static_cast<double>(result.grid.tokens()), params, ms});
  }
  t.notes = {"tome and evit reduce inside blocks k..L and k (between attention and MLP), to the ratio's budget as a "
             "set of tokens (grid 1 x N); fastv acts inside the LM and is not run here."};
  return t;
}

}  // namespace laco
