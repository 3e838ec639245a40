#include "trace/scan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SISYPHUS_SCAN_X86 1
#endif

namespace sisyphus::trace {
namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

ValueScan empty_scan() {
  ValueScan s;
  s.min = kInf;
  s.max = -kInf;
  return s;
}

// The scalar steps, shared by the portable scan and the vector scans' tails.
// `v < mn ? v : mn` leaves mn alone when v is NaN (the comparison is false).
void scan_tail(const float* p, int64_t begin, int64_t end, float bound, ValueScan& s) {
  for (int64_t i = begin; i < end; ++i) {
    const float v = p[i], a = std::fabs(v);
    s.nan += (v != v) ? 1 : 0;
    s.inf += (a == kInf) ? 1 : 0;
    s.above += (a > bound) ? 1 : 0;
    s.min = v < s.min ? v : s.min;
    s.max = v > s.max ? v : s.max;
  }
}

// -0 and +0 compare equal, so which one a min or max keeps depends on the
// order the values are met in: the vector widths would differ. Always +0.
ValueScan plus_zero(ValueScan s) {
  if (s.min == 0) s.min = 0.0f;
  if (s.max == 0) s.max = 0.0f;
  return s;
}

// Whether the extremes alone settle the counts: no NaN, nothing above the
// bound, no Inf (an Inf is above any finite bound).
bool counts_are_zero(bool any_nan, float mn, float mx, float bound) {
  return !any_nan && mx <= bound && mn >= -bound && mx != kInf && mn != -kInf;
}

#ifdef SISYPHUS_SCAN_X86
// The eight lanes' extremes into s's.
__attribute__((target("avx2"))) void fold_extremes(__m256 vmin, __m256 vmax, ValueScan& s) {
  alignas(32) float ext[2][8];
  _mm256_store_ps(ext[0], vmin);
  _mm256_store_ps(ext[1], vmax);
  for (int k = 0; k < 8; ++k) {
    s.min = std::min(s.min, ext[0][k]);
    s.max = std::max(s.max, ext[1][k]);
  }
}

// Eight lanes; the counters are 32-bit per lane, folded into the 64-bit totals
// every 2^24 vectors so that they never overflow. _mm256_min_ps(v, m) returns
// m when v is NaN: NaN never reaches the extremes, as in the scalar steps.
__attribute__((target("avx2"))) ValueScan count_avx2(const float* p, int64_t n, float bound) {
  ValueScan s = empty_scan();
  __m256 vmin = _mm256_set1_ps(kInf), vmax = _mm256_set1_ps(-kInf);
  const __m256 sign = _mm256_set1_ps(-0.0f), vinf = _mm256_set1_ps(kInf);
  const __m256 vbound = _mm256_set1_ps(bound);
  const int64_t whole = n - n % 8;
  int64_t i = 0;
  while (i < whole) {
    const int64_t end = std::min(whole, i + (int64_t{8} << 24));
    __m256i cnan = _mm256_setzero_si256(), cinf = cnan, cabove = cnan;
    for (; i < end; i += 8) {
      const __m256 v = _mm256_loadu_ps(p + i);
      const __m256 a = _mm256_andnot_ps(sign, v);
      // a true comparison is all ones, -1 as an integer: subtracting counts it
      cnan = _mm256_sub_epi32(cnan, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
      cinf = _mm256_sub_epi32(cinf, _mm256_castps_si256(_mm256_cmp_ps(a, vinf, _CMP_EQ_OQ)));
      cabove = _mm256_sub_epi32(cabove, _mm256_castps_si256(_mm256_cmp_ps(a, vbound, _CMP_GT_OQ)));
      vmin = _mm256_min_ps(v, vmin);
      vmax = _mm256_max_ps(v, vmax);
    }
    alignas(32) int32_t lanes[3][8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[0]), cnan);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[1]), cinf);
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes[2]), cabove);
    for (int k = 0; k < 8; ++k) {
      s.nan += lanes[0][k];
      s.inf += lanes[1][k];
      s.above += lanes[2][k];
    }
  }
  fold_extremes(vmin, vmax, s);
  scan_tail(p, whole, n, bound, s);
  return s;
}

// The first pass: the extremes and whether any value is NaN, four vectors at a
// time in independent registers (the loop is then bound by memory, not by the
// min/max latency).
__attribute__((target("avx2"))) ValueScan scan_avx2(const float* p, int64_t n, float bound) {
  __m256 mn[4], mx[4], nan[4];
  for (int k = 0; k < 4; ++k) {
    mn[k] = _mm256_set1_ps(kInf);
    mx[k] = _mm256_set1_ps(-kInf);
    nan[k] = _mm256_setzero_ps();
  }
  const int64_t whole = n - n % 32;
  for (int64_t i = 0; i < whole; i += 32) {
    for (int k = 0; k < 4; ++k) {
      const __m256 v = _mm256_loadu_ps(p + i + 8 * k);
      nan[k] = _mm256_or_ps(nan[k], _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      mn[k] = _mm256_min_ps(v, mn[k]);
      mx[k] = _mm256_max_ps(v, mx[k]);
    }
  }
  const __m256 vmin = _mm256_min_ps(_mm256_min_ps(mn[0], mn[1]), _mm256_min_ps(mn[2], mn[3]));
  const __m256 vmax = _mm256_max_ps(_mm256_max_ps(mx[0], mx[1]), _mm256_max_ps(mx[2], mx[3]));
  const __m256 vnan = _mm256_or_ps(_mm256_or_ps(nan[0], nan[1]), _mm256_or_ps(nan[2], nan[3]));
  ValueScan s = empty_scan();
  fold_extremes(vmin, vmax, s);
  scan_tail(p, whole, n, bound, s);
  const bool any_nan = _mm256_movemask_ps(vnan) != 0 || s.nan > 0;
  return counts_are_zero(any_nan, s.min, s.max, bound) ? s : count_avx2(p, n, bound);
}

// The same first pass with sixteen lanes; the counts, when needed, by the
// eight-lane pass (rare: NaN, Inf or a value above the bound).
__attribute__((target("avx512f"))) ValueScan scan_avx512(const float* p, int64_t n, float bound) {
  __m512 mn[4], mx[4];
  __mmask16 nan[4] = {0, 0, 0, 0};
  for (int k = 0; k < 4; ++k) {
    mn[k] = _mm512_set1_ps(kInf);
    mx[k] = _mm512_set1_ps(-kInf);
  }
  const int64_t whole = n - n % 64;
  for (int64_t i = 0; i < whole; i += 64) {
    for (int k = 0; k < 4; ++k) {
      const __m512 v = _mm512_loadu_ps(p + i + 16 * k);
      nan[k] = static_cast<__mmask16>(nan[k] | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
      mn[k] = _mm512_min_ps(v, mn[k]);
      mx[k] = _mm512_max_ps(v, mx[k]);
    }
  }
  const __m512 vmin = _mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3]));
  const __m512 vmax = _mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3]));
  ValueScan s = empty_scan();
  s.min = _mm512_reduce_min_ps(vmin);
  s.max = _mm512_reduce_max_ps(vmax);
  scan_tail(p, whole, n, bound, s);
  const bool any_nan = (nan[0] | nan[1] | nan[2] | nan[3]) != 0 || s.nan > 0;
  return counts_are_zero(any_nan, s.min, s.max, bound) ? s : count_avx2(p, n, bound);
}
#endif

ScanIsa best_isa() {
  static const ScanIsa isa = scan_isa_supported(ScanIsa::kAvx512) ? ScanIsa::kAvx512
                             : scan_isa_supported(ScanIsa::kAvx2) ? ScanIsa::kAvx2
                                                                  : ScanIsa::kPortable;
  return isa;
}

}  // namespace

bool scan_isa_supported(ScanIsa isa) {
  switch (isa) {
    case ScanIsa::kPortable:
      return true;
#ifdef SISYPHUS_SCAN_X86
    case ScanIsa::kAvx2:
      return __builtin_cpu_supports("avx2");
    case ScanIsa::kAvx512:  // the eight-lane count pass too
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2");
#endif
    default:
      return false;
  }
}

ValueScan scan_values_portable(const float* values, int64_t n, float bound) {
  ValueScan s = empty_scan();
  scan_tail(values, 0, n, bound, s);
  return plus_zero(s);
}

ValueScan scan_values_with(ScanIsa isa, const float* values, int64_t n, float bound) {
  switch (isa) {
#ifdef SISYPHUS_SCAN_X86
    case ScanIsa::kAvx2:
      return plus_zero(scan_avx2(values, n, bound));
    case ScanIsa::kAvx512:
      return plus_zero(scan_avx512(values, n, bound));
#endif
    default:
      return scan_values_portable(values, n, bound);
  }
}

ValueScan scan_values(const float* values, int64_t n, float bound) {
  return scan_values_with(best_isa(), values, n, bound);
}

}  // namespace sisyphus::trace
