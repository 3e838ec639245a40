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

// The instruction sets a scan can use.
enum class ScanIsa { kPortable, kAvx2, kAvx512 };

// Whether this CPU runs `isa` (checked at run time).
bool scan_isa_supported(ScanIsa isa);

// The widest instruction set the CPU has. The vector scans first take only
// the extremes and whether any value is NaN (a third of the work per value);
// the counts need a second pass only where that shows NaN, an Inf or a value
// above the bound. Every instruction set gives the same result; a zero
// extreme is +0 whatever the sign of the zeros it came from.
ValueScan scan_values(const float* values, int64_t n, float bound);
// The same with a given instruction set (tests and benchmarks); `isa` must
// be supported.
ValueScan scan_values_with(ScanIsa isa, const float* values, int64_t n, float bound);
ValueScan scan_values_portable(const float* values, int64_t n, float bound);

}  // namespace sisyphus::trace
