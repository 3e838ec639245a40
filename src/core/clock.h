// Wall-clock timing for progress lines, metrics and communication figures.
#pragma once

#include <chrono>

namespace sisyphus {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace sisyphus
