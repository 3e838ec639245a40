#include "trace/scan.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SISYPHUS_SCAN_AVX2 1
#endif

namespace sisyphus::trace {
namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

// The scalar steps, shared by the portable scan and the vector scan's tail.
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

#ifdef SISYPHUS_SCAN_AVX2
// Eight lanes; the counters are 32-bit per lane, folded into the 64-bit totals
// every 2^24 vectors so that they never overflow. _mm256_min_ps(v, m) returns
// m when v is NaN: NaN never reaches the extremes, as in the scalar steps.
__attribute__((target("avx2"))) ValueScan scan_avx2(const float* p, int64_t n, float bound) {
  ValueScan s;
  s.min = kInf;
  s.max = -kInf;
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
  alignas(32) float ext[2][8];
  _mm256_store_ps(ext[0], vmin);
  _mm256_store_ps(ext[1], vmax);
  for (int k = 0; k < 8; ++k) {
    s.min = std::min(s.min, ext[0][k]);
    s.max = std::max(s.max, ext[1][k]);
  }
  scan_tail(p, whole, n, bound, s);
  return s;
}

bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

}  // namespace

ValueScan scan_values_portable(const float* values, int64_t n, float bound) {
  ValueScan s;
  s.min = kInf;
  s.max = -kInf;
  scan_tail(values, 0, n, bound, s);
  return s;
}

ValueScan scan_values(const float* values, int64_t n, float bound) {
#ifdef SISYPHUS_SCAN_AVX2
  if (has_avx2()) return scan_avx2(values, n, bound);
#endif
  return scan_values_portable(values, n, bound);
}

}  // namespace sisyphus::trace
