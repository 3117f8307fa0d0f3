#include "harness/base/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/core.h>

#include "harness/base/host.h"
#include "harness/base/interrupt.h"

namespace laco {

std::string format_duration(double s) {
  if (s < 0) s = 0;
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

Progress::Progress(std::string what, int64_t total)
    : what_(std::move(what)), total_(total), enabled_(isatty(STDERR_FILENO) != 0), log_(!enabled_),
      start_(std::chrono::steady_clock::now()), last_log_(start_) {}

Progress::~Progress() { finish(); }

void Progress::step(const std::string& current) {
  throw_if_interrupted();
  ++done_;
  draw(current);
}

void Progress::advance(int64_t n, const std::string& current) {
  throw_if_interrupted();
  done_ += n;
  skipped_ += n;
  draw(current);
}

void Progress::note(const std::string& current) {
  throw_if_interrupted();
  draw(current);
}

void Progress::set_context(const std::string& context) { context_ = context; }

void Progress::print(const std::string& line) {
  if (enabled_ && !finished_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  draw(current_);
}

std::optional<double> eta_seconds(double elapsed, int64_t done, int64_t advanced, int64_t expected_advances,
                                  int64_t total) {
  if (done >= total) return 0.0;
  const int64_t worked = done - advanced;
  if (worked <= 0) return std::nullopt;
  const int64_t to_work = std::max<int64_t>(0, total - done - std::max<int64_t>(0, expected_advances - advanced));
  return elapsed / static_cast<double>(worked) * static_cast<double>(to_work);
}

std::string Progress::line(const std::string& current) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const auto left = eta_seconds(elapsed, done_, skipped_, expected_, total_);
  const std::string eta = left ? format_duration(*left) : "?";
  return fmt::format("{} {}/{}  elapsed {}  eta {}  {}{}{}", what_, done_, total_, format_duration(elapsed),
                     eta, context_, context_.empty() ? "" : ": ", current);
}

void Progress::draw(const std::string& current) {
  current_ = current;
  if (finished_) return;
  if (log_) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_log_ < std::chrono::seconds(30)) return;
    last_log_ = now;
    std::fprintf(stderr, "%s %s\n", utc_now().c_str(), line(current).c_str());
    std::fflush(stderr);
    return;
  }
  if (!enabled_) return;
  std::string text = line(current);
  if (text.size() > 120) text.resize(120);
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
}

}  // namespace laco
