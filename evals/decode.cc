#include "evals/decode.h"

#include <cmath>

namespace laco {
namespace {
double d(int64_t v) { return static_cast<double>(v); }
}  // namespace

double kv_bytes_per_position(const LmOptions& l, double bytes_per_value) {
  return 2.0 * d(l.layers()) * d(l.kv_heads()) * d(l.head_dim()) * bytes_per_value;
}

namespace {
// Positions summed over the layers (each layer's cache), FastV's shorter ones after K.
double layer_positions(const LmOptions& l, int64_t positions, const LmPrune& prune) {
  double sum = 0;
  for (int64_t i = 1; i <= l.layers(); ++i) sum += d(prune.positions(i, positions));
  return sum;
}
}  // namespace

double kv_cache_bytes(const LmOptions& l, int64_t positions, double bytes_per_value, const LmPrune& prune) {
  return layer_positions(l, positions, prune) / d(l.layers()) * kv_bytes_per_position(l, bytes_per_value);
}

DecodeStep decode_step(const LmOptions& l, int64_t context, int64_t batch, double bytes_per_value,
                       const LmPrune& prune) {
  const double w = d(l.width()), q = d(l.heads() * l.head_dim()), kv = d(l.kv_heads() * l.head_dim());
  const double b = d(batch), c = layer_positions(l, context, prune);
  // Per request and layer: the projections and SwiGLU of one position, then
  // its query against the layer's keys (scores) and values (mixing); c sums them over the layers.
  const double layer = 2.0 * w * (q + 2.0 * kv) + 2.0 * q * w + 2.0 * 3.0 * w * d(l.mlp_dim());
  DecodeStep s;
  s.flops = b * (d(l.layers()) * layer + 2.0 * 2.0 * c * q + 2.0 * w * d(l.vocab()));
  // The layers, the final norm and the output head (tied or not, a vocab x
  // width matrix) once per step; of the embedding only each request's row.
  const double weights = d(l.layers() * lm_layer_parameters(l) + l.width()) + d(l.vocab()) * w + b * w;
  s.weight_bytes = weights * bytes_per_value;
  s.kv_bytes = b * kv_cache_bytes(l, context, bytes_per_value, prune);
  return s;
}

DecodeStep decode_steps(const LmOptions& l, int64_t prompt, int64_t n, int64_t batch, double bytes_per_value,
                        const LmPrune& prune) {
  DecodeStep sum;
  for (int64_t i = 1; i < n; ++i) {
    const DecodeStep s = decode_step(l, prompt + i, batch, bytes_per_value, prune);
    sum.flops += s.flops;
    sum.weight_bytes += s.weight_bytes;
    sum.kv_bytes += s.kv_bytes;
  }
  return sum;
}

int64_t max_batch(double budget_bytes, double fixed_bytes, double per_request_bytes) {
  if (per_request_bytes <= 0 || budget_bytes < fixed_bytes + per_request_bytes) return 0;
  return static_cast<int64_t>(std::floor((budget_bytes - fixed_bytes) / per_request_bytes));
}

}  // namespace laco
