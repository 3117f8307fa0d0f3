#include "harness/base/memory.h"

#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

namespace laco {
namespace {

std::atomic<int64_t> g_current{0};
std::atomic<int64_t> g_peak{0};
std::atomic<bool> g_installed{false};

void raise_peak(int64_t now) {
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// Sizes come from malloc_usable_size on both sides, so no side table is
// needed and the data pointer stays its own context (raw_deleter works).
void counted_free(void* p) {
  if (!p) return;
  g_current.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  c10::free_cpu(p);
}

class CountingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    void* p = n ? c10::alloc_cpu(n) : nullptr;
    if (p) {
      const auto size = static_cast<int64_t>(malloc_usable_size(p));
      raise_peak(g_current.fetch_add(size, std::memory_order_relaxed) + size);
    }
    return {p, p, &counted_free, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &counted_free; }
};

CountingAllocator g_allocator;

// A "Key:   123 kB" line of a /proc file, in bytes (-1 if absent).
int64_t proc_kib(const char* file, const char* key) {
  std::ifstream in(file);
  std::string line;
  const size_t n = std::strlen(key);
  while (std::getline(in, line))
    if (line.compare(0, n, key) == 0) return std::stoll(line.substr(n + 1)) * 1024;
  return -1;
}

}  // namespace

void install_memory_counter() {
  if (g_installed.exchange(true)) return;
  // Priority above the default allocator's registration.
  c10::SetCPUAllocator(&g_allocator, /*priority=*/100);
}

bool memory_counter_installed() { return g_installed.load(); }
int64_t tensor_bytes() { return g_current.load(); }
int64_t peak_tensor_bytes() { return g_peak.load(); }
int64_t rss_bytes() { return proc_kib("/proc/self/status", "VmRSS:"); }
int64_t peak_rss_bytes() { return proc_kib("/proc/self/status", "VmHWM:"); }
int64_t available_memory_bytes() { return proc_kib("/proc/meminfo", "MemAvailable:"); }

void reset_tensor_peak() { g_peak.store(g_current.load()); }

void reset_memory_peaks() {
  reset_tensor_peak();
  // Hand freed heap back to the OS first, so that the RSS baseline is live memory.
  malloc_trim(0);
  if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);  // "5" resets the peak RSS (VmHWM) to the current RSS
    std::fclose(f);
  }
}

}  // namespace laco
