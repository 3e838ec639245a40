#include "dist/watchdog.h"

#include <cstdio>

namespace sisyphus::dist {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string timeout_text(double timeout_s) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "no result after %.3g s (the timeout)", timeout_s);
  return buf;
}

}  // namespace

WaitOutcome wait_for(const Poll& poll, double timeout_s, double max_sleep_s) {
  const auto start = Clock::now();
  double sleep_s = 1e-6;
  for (int spins = 0;; ++spins) {
    PollResult r = poll();
    if (r.state == PollResult::kDone) return {};
    if (r.state == PollResult::kFailed) return {false, r.why};
    if (seconds_between(start, Clock::now()) > timeout_s) {
      r = poll();  // the work may have ended while we slept
      if (r.state == PollResult::kDone) return {};
      return {false, r.state == PollResult::kFailed ? r.why : timeout_text(timeout_s)};
    }
    // A collective usually ends within microseconds of the first poll: spin a
    // little, then back off so a long wait does not burn a core.
    if (spins > 64) {
      std::this_thread::sleep_for(std::chrono::duration<double>(sleep_s));
      sleep_s = std::min(sleep_s * 2, max_sleep_s);
    }
  }
}

Watchdog::Watchdog(double timeout_s, double interval_s, Failure on_failure, Poll health,
                   std::function<void()> on_start)
    : timeout_s_(timeout_s),
      interval_s_(interval_s),
      on_failure_(std::move(on_failure)),
      health_(std::move(health)) {
  thread_ = std::thread([this, on_start = std::move(on_start)] {
    if (on_start) on_start();
    run();
  });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::watch(std::string what, Poll poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({std::move(what), std::move(poll), Clock::now()});
}

size_t Watchdog::in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

bool Watchdog::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

void Watchdog::check_once(std::unique_lock<std::mutex>& lock) {
  std::string failure;
  if (health_) {
    PollResult h = health_();
    if (h.state == PollResult::kFailed) failure = h.why;
  }
  const auto now = Clock::now();
  for (size_t i = 0; i < items_.size() && failure.empty();) {
    PollResult r = items_[i].poll();
    if (r.state == PollResult::kDone) {
      items_.erase(items_.begin() +
                   static_cast<std::ptrdiff_t>(i));  // releases what the poll kept alive
      continue;
    }
    if (r.state == PollResult::kFailed) {
      failure = items_[i].what + ": " + r.why;
    } else if (seconds_between(items_[i].since, now) > timeout_s_) {
      failure = items_[i].what + ": " + timeout_text(timeout_s_);
    }
    ++i;
  }
  if (failure.empty()) return;
  failed_ = true;
  lock.unlock();  // on_failure may take long (abort a communicator) or never return
  on_failure_(failure);
  lock.lock();
}

void Watchdog::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_ && !failed_) {
    cv_.wait_for(lock, std::chrono::duration<double>(interval_s_), [this] { return stop_; });
    if (stop_) break;
    check_once(lock);
  }
}

}  // namespace sisyphus::dist
