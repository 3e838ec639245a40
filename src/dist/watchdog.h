// Waiting on work that may never finish: a collective whose peer died, a
// communicator stuck in an asynchronous error. Every wait polls, and gives up
// after a timeout with a reason instead of blocking for ever.
//
// No CUDA here: the NCCL backend supplies the polls (cudaEventQuery,
// ncclCommGetAsyncError); the logic itself is tested on a CPU
// (tests/dist/test_watchdog.cpp).
//
//   wait_for(poll, timeout)  blocks the calling thread (host-side waits);
//   Watchdog                 a thread that watches stream-ordered work the
//                            host does not wait for, and calls on_failure
//                            once when one fails, outlives the timeout, or
//                            the health poll reports an error.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sisyphus::dist {

struct PollResult {
  enum State { kPending, kDone, kFailed } state = kPending;
  std::string why;  // for kFailed: what went wrong
  static PollResult pending() { return {kPending, ""}; }
  static PollResult done() { return {kDone, ""}; }
  static PollResult failed(std::string why) { return {kFailed, std::move(why)}; }
};
using Poll = std::function<PollResult()>;

// ok, or the reason it is not: the poll's failure or "no result after N s".
struct WaitOutcome {
  bool ok = true;
  std::string why;
};

// Polls until done or failed, or until `timeout_s` has passed (then one last
// poll). Spins briefly, then sleeps between polls (at most `max_sleep_s`).
WaitOutcome wait_for(const Poll& poll, double timeout_s, double max_sleep_s = 1e-3);

class Watchdog {
 public:
  using Failure = std::function<void(const std::string& what)>;
  // on_failure runs on the watchdog thread, once; it is expected to end the
  // process (the NCCL backend aborts its communicator and exits). on_start
  // runs first on the watchdog thread, before any poll (the NCCL backend
  // makes its GPU current there).
  Watchdog(double timeout_s, double interval_s, Failure on_failure, Poll health = nullptr,
           std::function<void()> on_start = nullptr);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Watches `poll` until it is done; `what` names the work in messages.
  void watch(std::string what, Poll poll);
  size_t in_flight() const;  // work not yet seen done
  bool failed() const;

 private:
  struct Item {
    std::string what;
    Poll poll;
    std::chrono::steady_clock::time_point since;
  };
  void run();
  void check_once(std::unique_lock<std::mutex>& lock);

  const double timeout_s_, interval_s_;
  Failure on_failure_;
  Poll health_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Item> items_;
  bool stop_ = false;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace sisyphus::dist
