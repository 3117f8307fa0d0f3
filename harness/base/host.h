// Facts about this process's machine and clock, as they are stored with
// every run (host, worker host, start and end times).
#pragma once

#include <string>

namespace laco {

/// This machine's host name.
std::string this_host();
/// "2026-11-21T07:30:00Z": UTC, ISO 8601, seconds.
std::string utc_now();

}  // namespace laco
