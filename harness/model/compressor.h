// The interface every visual-token compressor implements, and the options all
// of them share. One file per method beside this one; registry.h names them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/arg.h>
#include <torch/nn/module.h>

#include "harness/model/grid.h"
#include "harness/model/init.h"
#include "harness/model/lm_prune.h"

namespace laco {

class SafeTensors;
class EncoderBlockImpl;

/// Where a method acts on the visual tokens.
enum class MethodSite {
  kAfterBlock,  ///< forward() on block k's output (the grid methods)
  kInBlocks,    ///< inside encoder blocks k..L, between a block's attention and its MLP (forward_block)
  kInLm,        ///< inside the LM after its layer K (lm_prune); the encoder's tokens pass unchanged
};
/// "after_block", "in_blocks", "in_lm".
const char* to_string(MethodSite site);

/// The merge factors every method supports: 2, 3, 4 (r x r tokens into one: 4x, 9x, 16x fewer).
const std::vector<int64_t>& supported_ratios();
/// "2, 3, 4": the allowed values, for messages and help.
std::string supported_ratios_text();
/// An Error naming `where` unless `ratio` is supported. The one check of a ratio, wherever it is given.
void check_ratio(int64_t ratio, const std::string& where);

/// Shared by every method. Usage: CompressorOptions(1152).ratio(2).grid_policy(GridPolicy::kPad)
struct CompressorOptions {
  explicit CompressorOptions(int64_t dim = 0) : dim_(dim) {}
  int64_t resolved_out_dim() const { return out_dim_ > 0 ? out_dim_ : dim_; }
  /// Throws unless dim > 0, out_dim >= 0 and ratio in {2, 3, 4}.
  void validate(const std::string& method) const;

  /// Input width C.
  TORCH_ARG(int64_t, dim);
  /// Output width C_out; 0 means C (inside the encoder C_out = C).
  TORCH_ARG(int64_t, out_dim) = 0;
  /// Merge factor r: r x r tokens become one (r^2 fewer tokens). 2, 3 or 4.
  TORCH_ARG(int64_t, ratio) = 2;
  TORCH_ARG(GridPolicy, grid_policy) = GridPolicy::kPad;
  /// The encoder block k the compressor follows (1..L); 0 when standalone.
  TORCH_ARG(int64_t, block) = 0;
  /// The encoder's depth L (methods acting in blocks k..L plan over them); 0 when standalone.
  TORCH_ARG(int64_t, depth) = 0;
  /// The encoder's attention heads (ToMe matches on keys of one head's width); 0 when standalone.
  TORCH_ARG(int64_t, heads) = 0;
  /// How the weights start; kReference: as the method's reference does (MethodInfo::reference_init).
  TORCH_ARG(InitScheme, init) = InitScheme::kReference;
};

/// Key/value options specific to one method (e.g. laco's residual=false), as
/// they come from a sweep spec or the command line.
using MethodOptions = std::map<std::string, std::string>;

/// Values of a reference implementation's configuration (parity files'
/// __metadata__), read with errors that name the source and the key.
class ReferenceConfig {
 public:
  ReferenceConfig(std::string source, std::map<std::string, std::string> values)
      : source_(std::move(source)), values_(std::move(values)) {}
  const std::string& source() const { return source_; }
  std::string get(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool has(const std::string& key) const { return values_.count(key) != 0; }

 private:
  std::string source_;
  std::map<std::string, std::string> values_;
};

/// The base of every method: validates the input, applies the grid policy and
/// hands an r-divisible grid to compress(), with where its real tokens are.
/// Usage: auto out = compressor->forward(x, {27, 27}); out.tokens, out.grid
class CompressorImpl : public torch::nn::Module {
 public:
  struct Output {
    torch::Tensor tokens;  ///< [B, H' * W', C_out]
    Grid grid;
  };

  CompressorImpl(std::string method, CompressorOptions options);

  /// x [B, H*W, C] on `grid`; `features` are the extra hidden states the
  /// method asked for with feature_blocks(), each [B, H*W, C_i] on `grid`.
  virtual Output forward(const torch::Tensor& x, Grid grid, const std::vector<torch::Tensor>& features = {});

  /// The grid forward() returns for an input grid (ceil(H/r) x ceil(W/r)).
  virtual Grid output_grid(Grid in) const;
  /// Throws if this compressor cannot take `grid` (e.g. policy 'error').
  virtual void check_input_grid(Grid grid) const;

  /// Forward FLOPs for one image on `in` (multiply-adds count 2; pooling 1 per
  /// input element; element-wise activations and norms are not counted).
  virtual double flops(Grid in) const = 0;

  /// Encoder blocks (1-based) whose hidden states forward() needs as features.
  virtual std::vector<int64_t> feature_blocks() const { return {}; }

  /// Where the method acts. Methods other than kAfterBlock are token
  /// reductions (methods/token_reduction.h): the encoder or the LM calls them
  /// in place of forward().
  virtual MethodSite site() const { return MethodSite::kAfterBlock; }
  /// kInBlocks: block `index` (k..L) of the encoder on x [B, N, C] whose
  /// tokens hold `size` patches each ([B, N, 1]; undefined: 1 each); returns
  /// the block's output and its tokens' sizes. `in` is the encoder's grid.
  virtual std::pair<torch::Tensor, torch::Tensor> forward_block(EncoderBlockImpl& block, const torch::Tensor& x,
                                                                const torch::Tensor& size, int64_t index, Grid in);
  /// kInBlocks: tokens each encoder block 1..L sees in its attention and in
  /// its MLP, for one image on `in` (the FLOP model's per-block counts).
  struct BlockTokens {
    int64_t attention = 0, mlp = 0;
  };
  virtual std::vector<BlockTokens> block_tokens(Grid in) const;
  /// kInLm: the pruning inside the LM for `crops` crops of grid `in` whose
  /// visual tokens come first in the LM's sequence.
  virtual LmPrune lm_prune(Grid in, int64_t crops) const;

  /// Named outputs a reference implementation produced for parity checks:
  /// "output" always, plus method-specific intermediates (e.g. "output.shuffled").
  virtual std::map<std::string, torch::Tensor> reference_outputs(const torch::Tensor& x, Grid grid,
                                                                 const std::vector<torch::Tensor>& features);

  /// The reference's state_dict name for one of this module's parameters.
  virtual std::string reference_name(const std::string& name) const { return name; }

  /// Copies the reference's weights, stored under prefix + reference_name(p)
  /// for every parameter p, into this module. Strict: a missing tensor, a
  /// shape mismatch or a tensor with the prefix that no parameter takes is an Error.
  void load_reference_weights(const SafeTensors& file, const std::string& prefix = "weight.");

  const std::string& method() const { return method_; }
  const CompressorOptions& options() const { return options_; }
  int64_t ratio() const { return options_.ratio(); }

 protected:
  /// The method proper, on the r-divisible grid.work with the policy already
  /// applied. Tokens outside grid.valid are zero padding: a method must not
  /// let them into an output token (averages count valid tokens only,
  /// attention masks them; window_mean and valid_token_mask in grid.h).
  virtual torch::Tensor compress(const torch::Tensor& x, const WorkGrid& grid,
                                 const std::vector<torch::Tensor>& features) = 0;
  /// A faster way to the same output from x on its own grid, before the
  /// policy is applied (a fused kernel that zero-fills padding as it reads):
  /// forward() takes it when the method needs no features and this returns a
  /// tensor, else compress(). Must equal compress()'s output (bit for bit
  /// where the arithmetic allows; methods/laco_pack.h says where).
  virtual torch::Tensor compress_fused(const torch::Tensor& /*x*/, Grid /*grid*/) { return {}; }

  void check_input(const torch::Tensor& x, Grid grid) const;

  /// x with the grid policy applied, on the r-divisible grid it then has.
  struct Prepared {
    torch::Tensor x;
    WorkGrid grid;
  };
  Prepared prepare(const torch::Tensor& x, Grid grid) const;
  /// The r-divisible grid the method works on after the policy.
  Grid work_grid(Grid in) const;

  std::string method_;
  CompressorOptions options_;
};

using Compressor = std::shared_ptr<CompressorImpl>;

/// Parses method options with errors that list the allowed keys and values.
class OptionReader {
 public:
  OptionReader(std::string method, const MethodOptions& options, std::vector<std::string> allowed);
  bool get_bool(const std::string& key, bool fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;

 private:
  std::string method_;
  const MethodOptions& options_;
};

}  // namespace laco
