#include "harness/model/compressor.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/safetensors.h"
#include "harness/base/text.h"

namespace laco {

const std::vector<int64_t>& supported_ratios() {
  static const std::vector<int64_t> ratios = {2, 3, 4};
  return ratios;
}

std::string supported_ratios_text() { return fmt::format("{}", fmt::join(supported_ratios(), ", ")); }

void check_ratio(int64_t ratio, const std::string& where) {
  const auto& r = supported_ratios();
  if (std::find(r.begin(), r.end(), ratio) == r.end()) {
    std::vector<std::string> fewer;
    for (int64_t v : r) fewer.push_back(fmt::format("{}x", v * v));
    fail("{}: ratio {} is not supported (allowed: {} for {} fewer tokens)", where, ratio, supported_ratios_text(),
         join(fewer));
  }
}

const char* to_string(MethodSite site) {
  switch (site) {
    case MethodSite::kAfterBlock: return "after_block";
    case MethodSite::kInBlocks: return "in_blocks";
    case MethodSite::kInLm: return "in_lm";
  }
  return "?";
}

void CompressorOptions::validate(const std::string& method) const {
  if (dim_ <= 0) fail("method '{}': dim must be positive, got {}", method, dim_);
  if (out_dim_ < 0) fail("method '{}': out_dim must be >= 0 (0 = dim), got {}", method, out_dim_);
  check_ratio(ratio_, fmt::format("method '{}'", method));
  if (block_ < 0) fail("method '{}': block must be >= 1 (or 0 when standalone), got {}", method, block_);
  if (depth_ < 0 || (depth_ > 0 && block_ > depth_))
    fail("method '{}': depth must be >= block ({}) (or 0 when standalone), got {}", method, block_, depth_);
}

std::string ReferenceConfig::get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) fail("{}: reference configuration has no key '{}'", source_, key);
  return it->second;
}

int64_t ReferenceConfig::get_int(const std::string& key) const {
  const std::string v = get(key);
  if (auto n = parse_int(v)) return *n;
  fail("{}: reference configuration key '{}' must be an integer, got '{}'", source_, key, v);
}

double ReferenceConfig::get_double(const std::string& key) const {
  const std::string v = get(key);
  if (auto d = parse_double(v)) return *d;
  fail("{}: reference configuration key '{}' must be a number, got '{}'", source_, key, v);
}

CompressorImpl::CompressorImpl(std::string method, CompressorOptions options)
    : method_(std::move(method)), options_(std::move(options)) {
  options_.validate(method_);
}

void CompressorImpl::check_input(const torch::Tensor& x, Grid grid) const {
  if (x.dim() != 3)
    fail("method '{}': input must be [batch, tokens, channels], got {} dimensions", method_, x.dim());
  if (x.size(1) != grid.tokens())
    fail("method '{}': input has {} tokens but grid {} has {}", method_, x.size(1), grid.str(), grid.tokens());
  if (x.size(2) != options_.dim())
    fail("method '{}': input has {} channels, the method was built for {}", method_, x.size(2), options_.dim());
}

void CompressorImpl::check_input_grid(Grid grid) const {
  check_grid(grid, options_.ratio(), options_.grid_policy());
}

Grid CompressorImpl::output_grid(Grid in) const { return compressed_grid(in, options_.ratio()); }

Grid CompressorImpl::work_grid(Grid in) const {
  return work_grid_for(in, options_.ratio(), options_.grid_policy()).work;
}

CompressorImpl::Prepared CompressorImpl::prepare(const torch::Tensor& x, Grid grid) const {
  check_input_grid(grid);
  return {apply_grid_policy(x, grid, options_.ratio(), options_.grid_policy()),
          work_grid_for(grid, options_.ratio(), options_.grid_policy())};
}

CompressorImpl::Output CompressorImpl::forward(const torch::Tensor& x, Grid grid,
                                               const std::vector<torch::Tensor>& features) {
  check_input(x, grid);
  std::vector<torch::Tensor> prepared;
  prepared.reserve(features.size());
  for (const auto& f : features) {
    if (f.dim() != 3 || f.size(0) != x.size(0) || f.size(1) != grid.tokens())
      fail("method '{}': feature tensors must be [{}, {}, C]", method_, x.size(0), grid.tokens());
    prepared.push_back(prepare(f, grid).x);
  }
  if (features.empty()) {
    check_input_grid(grid);
    if (auto y = compress_fused(x, grid); y.defined()) return {y, output_grid(grid)};
  }
  const Prepared p = prepare(x, grid);
  return {compress(p.x, p.grid, prepared), output_grid(grid)};
}

std::pair<torch::Tensor, torch::Tensor> CompressorImpl::forward_block(EncoderBlockImpl&, const torch::Tensor&,
                                                                      const torch::Tensor&, int64_t, Grid) {
  fail("method '{}' acts {}, not inside encoder blocks", method_, to_string(site()));
}

std::vector<CompressorImpl::BlockTokens> CompressorImpl::block_tokens(Grid) const {
  fail("method '{}' acts {}, not inside encoder blocks", method_, to_string(site()));
}

LmPrune CompressorImpl::lm_prune(Grid, int64_t) const {
  fail("method '{}' acts {}, not inside the LM", method_, to_string(site()));
}

std::map<std::string, torch::Tensor> CompressorImpl::reference_outputs(const torch::Tensor& x, Grid grid,
                                                                       const std::vector<torch::Tensor>& features) {
  return {{"output", forward(x, grid, features).tokens}};
}

void CompressorImpl::load_reference_weights(const SafeTensors& file, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  std::set<std::string> used;
  for (auto& item : named_parameters(/*recurse=*/true)) {
    const std::string key = prefix + reference_name(item.key());
    const auto& src = file.get(key);
    auto& dst = item.value();
    if (src.sizes() != dst.sizes())
      fail("{}: tensor '{}' has shape {} but method '{}' parameter '{}' has shape {}", file.source(), key,
           fmt::format("{}", fmt::join(src.sizes(), ", ")), method_, item.key(),
           fmt::format("{}", fmt::join(dst.sizes(), ", ")));
    dst.copy_(src.to(dst.dtype()));
    used.insert(key);
  }
  std::vector<std::string> unused;
  for (const auto& name : file.names())
    if (name.rfind(prefix, 0) == 0 && !used.count(name)) unused.push_back(name);
  if (!unused.empty())
    fail("{}: tensors {} match no parameter of method '{}'", file.source(), join(unused), method_);
}

OptionReader::OptionReader(std::string method, const MethodOptions& options, std::vector<std::string> allowed)
    : method_(std::move(method)), options_(options) {
  for (const auto& kv : options_) {
    if (std::find(allowed.begin(), allowed.end(), kv.first) == allowed.end())
      fail("method '{}': unknown option '{}' (allowed: {})", method_, kv.first,
           allowed.empty() ? std::string("none") : join(allowed));
  }
}

bool OptionReader::get_bool(const std::string& key, bool fallback) const {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  if (auto b = parse_bool(it->second)) return *b;
  fail("method '{}': option '{}' must be true or false, got '{}'", method_, key, it->second);
}

int64_t OptionReader::get_int(const std::string& key, int64_t fallback) const {
  auto it = options_.find(key);
  if (it == options_.end()) return fallback;
  if (auto n = parse_int(it->second)) return *n;
  fail("method '{}': option '{}' must be an integer, got '{}'", method_, key, it->second);
}

}  // namespace laco
