// SHA-256 (FIPS 180-4), for run keys: a run's key must stay the same across
// builds, machines and years, so it is a standard digest, not std::hash.
#pragma once

#include <string>

namespace laco {

/// Lower-case hex digest of `data` (64 characters).
std::string sha256_hex(const std::string& data);

}  // namespace laco
