// One pass over a float32 array for the exact part of a trace record: how many
// values are NaN, +-Inf, and above a bound in magnitude (Inf included), and
// the min and max of the non-NaN values. The trace's CPU path (stats.cpp);
// no torch here.
#pragma once

#include <cstdint>

namespace sisyphus::trace {

struct ValueScan {
  int64_t nan = 0;
  int64_t inf = 0;
  int64_t above = 0;  // |v| > bound, +-Inf included, NaN not
  float min;          // of the non-NaN values; +Inf when every value is NaN
  float max;          // -Inf when every value is NaN
};

// AVX2 where the CPU has it (checked at run time), plain C++ otherwise; the
// same result either way.
ValueScan scan_values(const float* values, int64_t n, float bound);
ValueScan scan_values_portable(const float* values, int64_t n, float bound);

}  // namespace sisyphus::trace
