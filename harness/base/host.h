// Facts about this process's machine and clock, as they are stored with
// every run (host, worker host, start and end times).
#pragma once

#include <chrono>
#include <string>

namespace laco {

/// This machine's host name.
std::string this_host();
/// "2026-11-21T07:30:00Z": UTC, ISO 8601, seconds.
std::string utc_now();
/// Wall seconds on the steady clock since `t`. Usage: const auto t0 = steady_clock::now(); ... seconds_since(t0)
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace laco
