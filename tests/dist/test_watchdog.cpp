// The bounded waits of the NCCL backend (dist/watchdog.h), on fake polls:
// what a GPU shows only when a peer dies is decided here by plain logic.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "dist/watchdog.h"

using namespace sisyphus::dist;
using namespace std::chrono_literals;

TEST(WaitFor, ReturnsWhenDone) {
  int calls = 0;
  WaitOutcome o =
      wait_for([&] { return ++calls < 5 ? PollResult::pending() : PollResult::done(); }, 10.0);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(calls, 5);
}

TEST(WaitFor, ReportsFailureWithItsReason) {
  WaitOutcome o = wait_for([] { return PollResult::failed("unhandled system error"); }, 10.0);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.why, "unhandled system error");
}

TEST(WaitFor, TimesOutOnWorkThatNeverEnds) {
  const auto t0 = std::chrono::steady_clock::now();
  WaitOutcome o = wait_for([] { return PollResult::pending(); }, 0.2);
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(o.ok);
  EXPECT_NE(o.why.find("no result after 0.2 s"), std::string::npos) << o.why;
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 2.0);  // bounded, not a hang
}

TEST(WaitFor, WorkEndingAtTheDeadlineCounts) {
  const auto t0 = std::chrono::steady_clock::now();
  WaitOutcome o = wait_for(
      [&] {
        return std::chrono::steady_clock::now() - t0 > 100ms ? PollResult::done()
                                                             : PollResult::pending();
      },
      0.1, /*max_sleep_s=*/0.05);
  EXPECT_TRUE(o.ok) << o.why;
}

namespace {
struct Failures {
  std::mutex m;
  std::vector<std::string> seen;
  void add(const std::string& s) {
    std::lock_guard<std::mutex> lock(m);
    seen.push_back(s);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(m);
    return seen.size();
  }
};
bool eventually(const std::function<bool()>& cond, double seconds = 5.0) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}
}  // namespace

TEST(Watchdog, ForgetsFinishedWorkAndReleasesWhatItHeld) {
  Failures f;
  Watchdog dog(10.0, 0.01, [&](const std::string& w) { f.add(w); });
  std::atomic<bool> finished{false};
  auto kept = std::make_shared<int>(7);
  std::weak_ptr<int> watch_kept = kept;
  dog.watch("ncclAllReduce(10 x Float)",
            [&finished, kept] { return finished ? PollResult::done() : PollResult::pending(); });
  kept.reset();
  EXPECT_EQ(dog.in_flight(), 1u);
  EXPECT_FALSE(watch_kept.expired());  // the watched work keeps its tensors alive
  finished = true;
  EXPECT_TRUE(eventually([&] { return dog.in_flight() == 0; }));
  EXPECT_TRUE(watch_kept.expired());  // released once seen done
  EXPECT_EQ(f.count(), 0u);
  EXPECT_FALSE(dog.failed());
}

TEST(Watchdog, TimeoutNamesTheWorkOnce) {
  Failures f;
  Watchdog dog(0.15, 0.01, [&](const std::string& w) { f.add(w); });
  dog.watch("ncclAllReduce(4 x Float)", [] { return PollResult::pending(); });
  dog.watch("ncclBroadcast(1 x Long)", [] { return PollResult::pending(); });
  ASSERT_TRUE(eventually([&] { return f.count() > 0; }));
  std::this_thread::sleep_for(100ms);
  ASSERT_EQ(f.count(), 1u);  // once, then the watchdog stops
  EXPECT_NE(f.seen[0].find("ncclAllReduce(4 x Float): no result after 0.15 s"), std::string::npos)
      << f.seen[0];
  EXPECT_TRUE(dog.failed());
}

TEST(Watchdog, FailedWorkAndAsyncErrorsAreReported) {
  {
    Failures f;
    Watchdog dog(10.0, 0.01, [&](const std::string& w) { f.add(w); });
    dog.watch("ncclAllGather(8 x Float)",
              [] { return PollResult::failed("CUDA error: an illegal memory access"); });
    ASSERT_TRUE(eventually([&] { return f.count() > 0; }));
    EXPECT_EQ(f.seen[0], "ncclAllGather(8 x Float): CUDA error: an illegal memory access");
  }
  {
    Failures f;
    std::atomic<bool> broken{false};
    Watchdog dog(
        10.0, 0.01, [&](const std::string& w) { f.add(w); },
        [&] {
          return broken ? PollResult::failed("asynchronous NCCL error: remote process exited")
                        : PollResult::pending();
        });
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(f.count(), 0u);  // healthy: nothing to report, even with no work in flight
    broken = true;
    ASSERT_TRUE(eventually([&] { return f.count() > 0; }));
    EXPECT_EQ(f.seen[0], "asynchronous NCCL error: remote process exited");
  }
}

TEST(Watchdog, StopsPromptlyWhenDestroyed) {
  const auto t0 = std::chrono::steady_clock::now();
  {
    Watchdog dog(600.0, 10.0, [](const std::string&) {});
    dog.watch("never", [] { return PollResult::pending(); });
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}

// The NCCL backend makes its GPU current on the watchdog thread (CUDA's
// current device is per thread): the hook runs there, before any poll.
TEST(Watchdog, OnStartRunsOnItsOwnThreadBeforeAnyPoll) {
  std::atomic<bool> started{false};
  std::atomic<bool> polled_before_start{false};
  std::atomic<int> polls{0};
  std::thread::id hook_thread, poll_thread;
  std::mutex m;
  {
    Watchdog dog(
        10.0, 0.01, [](const std::string&) {},
        [&] {
          if (!started) polled_before_start = true;
          std::lock_guard<std::mutex> lock(m);
          poll_thread = std::this_thread::get_id();
          ++polls;
          return PollResult::pending();
        },
        [&] {
          std::lock_guard<std::mutex> lock(m);
          hook_thread = std::this_thread::get_id();
          started = true;
        });
    ASSERT_TRUE(eventually([&] { return polls.load() > 2; }));
  }
  EXPECT_FALSE(polled_before_start);
  EXPECT_NE(hook_thread, std::this_thread::get_id());
  EXPECT_EQ(hook_thread, poll_thread);
}
