// Memory probes for CPU runs. Two real figures, both resettable per measurement:
// - tensor bytes: LibTorch's CPU allocator wrapped by a counter (current and
//   peak bytes), the CPU counterpart of CUDA's caching-allocator statistics;
// - process peak RSS: Linux's VmHWM, reset through /proc/self/clear_refs.
#pragma once

#include <cstdint>

namespace laco {

/// Routes LibTorch's CPU allocations through the counter. Idempotent; call
/// before building models so that weights are counted too.
void install_memory_counter();
bool memory_counter_installed();

/// Bytes of live CPU tensors allocated since install_memory_counter().
int64_t tensor_bytes();
/// Peak of tensor_bytes() since the last reset_memory_peaks().
int64_t peak_tensor_bytes();

/// Process resident set now and its peak since the last reset (-1 if unknown).
int64_t rss_bytes();
int64_t peak_rss_bytes();

/// The memory the kernel says can be allocated without swapping
/// (MemAvailable in /proc/meminfo; -1 if unknown).
int64_t available_memory_bytes();

/// Starts a new measurement: both peaks drop to the current values.
void reset_memory_peaks();
/// Drops only the tensor peak to the current bytes: no heap trimming, so it
/// may precede a timed run (reset_memory_peaks() hands freed heap back to the
/// OS, and the run after it would pay the page faults of taking it again).
void reset_tensor_peak();

}  // namespace laco
