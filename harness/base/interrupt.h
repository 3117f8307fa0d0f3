// Stopping long work cleanly on SIGINT or SIGTERM (Ctrl-C; Slurm's notice
// before SIGKILL at a time limit). The handler only sets a flag; the work
// notices it where it reports progress (Progress::step and ::note) and throws
// Interrupted, so that the caller can mark what it was doing and stop. A
// second signal ends the process at once (the default action).
//
// `laco sweep` catches the signals from its first instant (main.cc installs
// the handler before any library initialises) to its last, so that a signal
// at start-up or after the last run still ends it with status 130 and a
// database to resume, never by the signal itself.
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

/// Installs the handlers for SIGINT and SIGTERM for the rest of the process
/// and unblocks both (a signal already pending is then received at once).
void catch_interrupts();

/// RAII: installs the handlers for SIGINT and SIGTERM; restores the previous
/// ones. A signal received before or during its life stays recorded.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

/// The signal received (while a handler was installed), or 0.
int interrupt_signal();
/// Throws Interrupted when a signal was received (and a guard is installed).
void throw_if_interrupted();
/// Forgets a received signal (for tests that interrupt on purpose).
void clear_interrupt();
/// `status`, or 130 (the shell's status for an interrupted command) when a
/// signal was received: what `laco sweep` exits with.
int exit_status(int status);

}  // namespace laco
