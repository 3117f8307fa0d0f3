// The base of the methods that reduce tokens where the grid methods cannot
// sit: inside encoder blocks (tome, evit) or inside the LM (fastv). They keep
// the token width, have no weights, and reach the same budget as a grid
// method of the same ratio (ceil(H / r) x ceil(W / r) tokens per crop) for a
// like-for-like comparison; their tokens form a set, not a grid, so their
// output grid is 1 x budget (the encoder's grid for fastv: it leaves the
// encoder's tokens complete). Any grid works (no grid policy applies).
#pragma once

#include "methods/registry.h"

namespace laco {

class TokenReductionImpl : public CompressorImpl {
 public:
  TokenReductionImpl(std::string method, CompressorOptions options);
  /// The tokens per crop that reach the LM's layers after the method: a
  /// ratio-r grid method's count.
  int64_t budget(Grid in) const;
  Grid output_grid(Grid in) const override { return {1, budget(in)}; }
  void check_input_grid(Grid) const override {}
  /// An Error: the encoder or the LM calls the method where it acts.
  Output forward(const torch::Tensor& x, Grid grid, const std::vector<torch::Tensor>& features = {}) override;

 protected:
  torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                         const std::vector<torch::Tensor>& features) override;
  /// The block the method starts in and the encoder's depth, or an Error
  /// when the method was built standalone (options().block() or depth() 0).
  std::pair<int64_t, int64_t> blocks() const;
};

}  // namespace laco
