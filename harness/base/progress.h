// Progress for long work: "done/total, elapsed, ETA" redrawn in place on a
// terminal (stderr); when stderr is not a terminal (logs, CI, Slurm), the same
// line with a UTC timestamp at most every 30 s, so a log shows how far a
// long run got and when.
// step() and note() are also where long work notices an interrupt
// (harness/interrupt.h): they throw Interrupted once SIGINT/SIGTERM arrived.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace laco {

/// Usage: Progress p("efficiency", 12); p.step("laco 1/4 train_step"); ... p.finish();
class Progress {
 public:
  Progress(std::string what, int64_t total);
  ~Progress();
  /// Marks one unit done; `current` names what comes next.
  void step(const std::string& current = "");
  /// Marks `n` units done at once (work found done already, e.g. a cached stage 0).
  void advance(int64_t n, const std::string& current = "");
  /// Says that `n` of the units still ahead will be advance()d rather than
  /// worked (a stage 0 that an earlier run trains and later runs read from the
  /// cache), so that the ETA does not price them at the rate of real work.
  void expect_advances(int64_t n) { expected_ += n; }
  /// Shows `current` without counting a unit.
  void note(const std::string& current);
  void finish();
  /// Shown before `current` on every redraw, e.g. "run 3/40 laco 1/4 r=2".
  void set_context(const std::string& context);
  /// Prints a line to stdout above the progress line (which is redrawn).
  void print(const std::string& line);
  /// Forces drawing on or off (tests; --progress / --no-progress).
  void set_enabled(bool on) {
    enabled_ = on;
    log_ = false;
  }

  /// "what done/total  elapsed E  eta T  context: current", as drawn.
  std::string line(const std::string& current) const;
  int64_t done() const { return done_; }
  int64_t total() const { return total_; }

 private:
  void draw(const std::string& current);
  std::string what_, context_, current_;
  int64_t total_, done_ = 0;
  int64_t skipped_ = 0;  ///< units advance()d: done without taking time, left out of the rate
  int64_t expected_ = 0;  ///< units expected to be advance()d (expect_advances)
  bool enabled_, finished_ = false;
  bool log_;  ///< timestamped lines (stderr is not a terminal)
  std::chrono::steady_clock::time_point start_, last_log_;
};

/// The seconds still to go: the rate of the units worked so far (done less
/// the ones advance()d) over the units left that are to be worked (total less
/// done less the advances still expected); nullopt before any unit was worked.
std::optional<double> eta_seconds(double elapsed, int64_t done, int64_t advanced, int64_t expected_advances,
                                  int64_t total);

/// "1m05s", "42s", "1h02m".
std::string format_duration(double seconds);

}  // namespace laco
