// The decode model: what generating tokens costs, from the shapes alone.
//
// After the prefill, every generated token is one LM step over one position
// per request that attends to everything cached: the visual tokens stay in
// the KV cache for every token of the answer. A step reads every LM weight
// once for the whole batch and each request's cached keys and values once;
// its FLOPs are two per multiply-add, as in evals/flops.h. With about 0.5
// FLOP per float32 byte of weights at batch 1, and heads / (2 kv_heads)
// FLOP per byte of KV cache at any batch, decode on a CPU (or GPU) is
// bound by memory bandwidth, not FLOPs: the bytes are its cost model, and
// compressing visual tokens shortens the cache every step reads.
//
// Memory under a budget (static batching, generate()'s: b requests
// prefilled together, then decoded together): weights + b x (inputs + KV
// cache at the last step + activation peak). The cache is allocated for
// its last step at the prefill (KvCache's capacity), so the peak holds the
// whole cache and the largest transient at once. The efficiency run
// measures the activation peak per request at batch 1 and checks the sum
// against a measured batch; `laco predict` has no measurement and gives the
// KV-bound batch (weights + caches: what a serving engine that prefills in
// chunks and reserves activations once is bounded by).
#pragma once

#include <cstdint>

#include "harness/model/mllm.h"
#include "harness/model/parameters.h"

namespace laco {

/// Bytes of one cached position: keys and values of every layer (kv_heads x head_dim each).
/// Usage: kv_cache_bytes(lm, prompt + n - 1) for the cache after n generated tokens.
double kv_bytes_per_position(const LmOptions& l, double bytes_per_value = 4);
/// With an active `prune` (FastV), the layers after K hold prune.dropped() fewer.
double kv_cache_bytes(const LmOptions& l, int64_t positions, double bytes_per_value = 4, const LmPrune& prune = {});


/// One decode step at batch b over `context` positions per request (the
/// cached ones and the new one).
struct DecodeStep {
  double flops = 0;         ///< every request's layers and output head
  double weight_bytes = 0;  ///< LM weights read once per step (the embedding: one row per request)
  double kv_bytes = 0;      ///< every request's cached keys and values read
  double bytes() const { return weight_bytes + kv_bytes; }
  /// FLOP per byte: far below a machine's balance point means bandwidth-bound.
  double intensity() const { return bytes() > 0 ? flops / bytes() : 0; }
};
DecodeStep decode_step(const LmOptions& l, int64_t context, int64_t batch, double bytes_per_value = 4,
                       const LmPrune& prune = {});

/// The n - 1 steps that follow a prefill of `prompt` positions (generate()'s:
/// step i, 1 <= i < n, attends to prompt + i positions), summed.
DecodeStep decode_steps(const LmOptions& l, int64_t prompt, int64_t n, int64_t batch, double bytes_per_value = 4,
                        const LmPrune& prune = {});

/// The largest batch b with fixed + b x per_request <= budget (0: not even
/// one request fits). Usage: max_batch(80 * GiB, weights, kv + activations).
int64_t max_batch(double budget_bytes, double fixed_bytes, double per_request_bytes);

}  // namespace laco
