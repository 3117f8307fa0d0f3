// Stopping long work cleanly on SIGINT or SIGTERM (Ctrl-C; Slurm's notice
// before SIGKILL at a time limit). The handler only sets a flag; the work
// notices it where it reports progress (Progress::step and ::note) and throws
// Interrupted, so that the caller can mark what it was doing and stop. A
// second signal ends the process at once (the default action).
#pragma once

#include <string>

#include "harness/base/error.h"

namespace laco {

class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& signal) : Error("interrupted by " + signal), signal_(signal) {}
  const std::string& signal() const { return signal_; }

 private:
  std::string signal_;
};

/// RAII: installs the handlers for SIGINT and SIGTERM; restores the previous ones.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

/// The signal received since the guard was installed, or 0.
int interrupt_signal();
/// Throws Interrupted when a signal was received (and a guard is installed).
void throw_if_interrupted();

}  // namespace laco
