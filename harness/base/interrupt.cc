#include "harness/base/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace laco {
namespace {

volatile sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term;

void on_signal(int sig) {
  g_signal = sig;
  const char msg[] =
      "\nlaco: stopping after marking the current run; send the signal again to quit at once "
      "(the run is then redone next time)\n";
  (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  // The next signal takes the default action: the process ends at once.
  signal(sig, SIG_DFL);
}

void install() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  // After a first signal the handler is the default: a second one quits at once.
  if (g_signal != SIGINT) sigaction(SIGINT, &sa, nullptr);
  if (g_signal != SIGTERM) sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

void catch_interrupts() {
  install();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
}

InterruptGuard::InterruptGuard() {
  sigaction(SIGINT, nullptr, &g_old_int);
  sigaction(SIGTERM, nullptr, &g_old_term);
  install();
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

int interrupt_signal() { return g_signal; }

void clear_interrupt() { g_signal = 0; }

int exit_status(int status) { return g_signal != 0 ? 130 : status; }

void throw_if_interrupted() {
  const int sig = g_signal;
  if (sig != 0) throw Interrupted(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal");
}

}  // namespace laco
