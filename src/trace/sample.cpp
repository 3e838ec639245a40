#include "trace/sample.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace sisyphus::trace {
namespace {

// 10^k from its decimal string, correctly rounded to long double; the
// smallest T not below it. A float or double could lie between that rounding
// and 10^k itself only if it agreed with 10^k to 64 bits (checked for float
// over every exponent against long double's log10 by
// TraceSample.BinEqualsTheLogarithmOverEveryExponent).
template <typename T>
T smallest_not_below_power_of_ten(int k) {
  char text[16];
  std::snprintf(text, sizeof text, "1e%d", k);
  const long double p = std::strtold(text, nullptr);
  T t = static_cast<T>(p);
  if (static_cast<long double>(t) < p) t = std::nextafter(t, std::numeric_limits<T>::infinity());
  return t;
}

template <typename T>
std::vector<T> edges_of() {
  std::vector<T> e;
  for (int i = 1; i < kHistBins; ++i)
    e.push_back(smallest_not_below_power_of_ten<T>(static_cast<int>(kHistLow) + i));
  return e;
}

// For each biased float exponent: the bin of the smallest |v| with that
// exponent, and the edge at or above which |v| is one bin higher (a binary
// octave spans less than a decade, so at most one edge falls inside it).
struct BinTable {
  int8_t base[256];
  float next[256];
  BinTable() {
    const std::vector<float>& e = hist_edges_float();
    const auto count_at_or_below = [&](float a) {
      return static_cast<int>(std::upper_bound(e.begin(), e.end(), a) - e.begin());
    };
    for (int b = 0; b < 256; ++b) {
      uint32_t bits = static_cast<uint32_t>(b) << 23;
      float lo;
      std::memcpy(&lo, &bits, sizeof lo);  // the octave's smallest value (0 for b = 0, Inf for 255)
      base[b] = static_cast<int8_t>(count_at_or_below(lo));
      // the last bin has no edge above it: NaN, which no comparison reaches
      next[b] = base[b] < kHistBins - 1 ? e[static_cast<size_t>(base[b])]
                                        : std::numeric_limits<float>::quiet_NaN();
    }
    // subnormals (b = 0) lie below the first edge: their octave's "smallest
    // value" 0 gives the right bin, and the next edge is far above them.
  }
};

const BinTable& bin_table() {
  static const BinTable t;
  return t;
}

}  // namespace

int64_t sample_stride(int64_t image_values, int64_t per_image) {
  if (per_image <= 0 || image_values <= per_image) return 1;
  int64_t stride = image_values / per_image;
  if (stride % 2 == 0) ++stride;
  return stride;
}

const std::vector<float>& hist_edges_float() {
  static const std::vector<float> e = edges_of<float>();
  return e;
}

const std::vector<double>& hist_edges_double() {
  static const std::vector<double> e = edges_of<double>();
  return e;
}

int hist_bin(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits &= 0x7fffffffu;
  float a;
  std::memcpy(&a, &bits, sizeof a);
  const BinTable& t = bin_table();
  const uint32_t b = bits >> 23;
  return t.base[b] + (a >= t.next[b] ? 1 : 0);
}

SampleSums sample_sums(const float* values, int64_t images, int64_t image_values, int64_t per_image,
                       int64_t channels) {
  SampleSums s;
  const int64_t stride = sample_stride(image_values, per_image);
  const int64_t hw = channels > 0 ? image_values / channels : 0;
  for (int64_t n = 0; n < images; ++n) {
    const float* image = values + n * image_values;
    for (int64_t pos = 0; pos < image_values; pos += stride) {
      // NCHW position c*HW + hw is NHWC position hw*C + c
      const int64_t at = channels > 0 ? (pos % hw) * channels + pos / hw : pos;
      const float v = image[at];
      if (v != v) continue;  // NaN: counted by the scan, in neither the histogram nor the moments
      ++s.hist[static_cast<size_t>(hist_bin(v))];
      if (std::isinf(v)) continue;
      const double d = v;
      ++s.finite;
      s.sum += d;
      s.sumsq += d * d;
    }
  }
  return s;
}

}  // namespace sisyphus::trace
