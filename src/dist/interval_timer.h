// Time a rank spends waiting for communication, measured where the wait
// happens (horovod's timeline idea, reduced to one number).
//
// Host-side backends (local, MPI) block the calling thread, so the host's
// clock measures their waits. NCCL does not block the host: Work::wait()
// makes the compute stream wait, and a host clock would time only the
// enqueue. Its timer records a CUDA event on the compute stream before and
// after the wait and sums the elapsed times between them when asked
// (dist/nccl_communicator.cpp): what the compute stream spent waiting.
#pragma once

#include <memory>

#include "core/clock.h"

namespace sisyphus::dist {

class IntervalTimer {
 public:
  virtual ~IntervalTimer() = default;
  virtual void start() = 0;  // before a wait
  virtual void stop() = 0;   // after it
  // The sum of the [start, stop] intervals so far. A device timer may wait
  // here until its stream has passed the last stop().
  virtual double seconds() = 0;
};

// The host's steady clock.
class HostTimer : public IntervalTimer {
 public:
  void start() override { t0_ = Clock::now(); }
  void stop() override { total_ += seconds_since(t0_); }
  double seconds() override { return total_; }

 private:
  Clock::time_point t0_ = Clock::now();
  double total_ = 0;
};

// RAII: times one interval with `timer` (a wait; also any scope whose time is
// summed, like the trace's statistics).
class TimedWait {
 public:
  explicit TimedWait(IntervalTimer& timer) : timer_(timer) { timer_.start(); }
  ~TimedWait() { timer_.stop(); }
  TimedWait(const TimedWait&) = delete;
  TimedWait& operator=(const TimedWait&) = delete;

 private:
  IntervalTimer& timer_;
};

}  // namespace sisyphus::dist
