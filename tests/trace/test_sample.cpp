// The trace's sampled part (trace/sample.h): the histogram's bins by exact
// comparison with powers of ten, on the CPU path's bin table and on the
// general path's edges, against an independent logarithm.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "trace/record.h"
#include "trace/sample.h"
#include "trace/stats.h"

using namespace sisyphus;

namespace {

float float_of_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The bin by definition: floor(log10 |v|) - kHistLow, clamped to the bins.
int bin_by_log(long double a) {
  const long double lg = std::floor(std::log10(a));
  return static_cast<int>(std::clamp<long double>(lg - trace::kHistLow, 0, trace::kHistBins - 1));
}

}  // namespace

// Powers of ten exact in float32 open their bin; the float just below stays
// in the bin below (a float32 log10 may round either way there).
TEST(TraceSample, ExactPowersOfTenOpenTheirBin) {
  float p = 1.0f;
  for (int k = 0; k <= 10; ++k, p *= 10.0f) {
    EXPECT_EQ(trace::hist_bin(p), k - static_cast<int>(trace::kHistLow)) << "1e" << k;
    EXPECT_EQ(trace::hist_bin(-p), k - static_cast<int>(trace::kHistLow)) << "-1e" << k;
    EXPECT_EQ(trace::hist_bin(std::nextafter(p, 0.0f)), k - 1 - static_cast<int>(trace::kHistLow))
        << "below 1e" << k;
  }
  EXPECT_EQ(trace::hist_bin(0.0f), 0);
  EXPECT_EQ(trace::hist_bin(-0.0f), 0);
  EXPECT_EQ(trace::hist_bin(1e-40f), 0);  // subnormal
  EXPECT_EQ(trace::hist_bin(1e-30f), 0);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(trace::hist_bin(inf), trace::kHistBins - 1);
  EXPECT_EQ(trace::hist_bin(-inf), trace::kHistBins - 1);
  EXPECT_EQ(trace::hist_bin(std::numeric_limits<float>::max()),
            38 - static_cast<int>(trace::kHistLow));
  // negative powers are not floats: the nearest float on either side of 10^k
  for (int k = -8; k < 0; ++k) {
    const long double exact = std::pow(10.0L, k);
    const float near = static_cast<float>(exact);
    for (float f : {std::nextafter(near, 0.0f), near, std::nextafter(near, 1.0f)})
      EXPECT_EQ(trace::hist_bin(f), (static_cast<long double>(f) >= exact ? k : k - 1) -
                                        static_cast<int>(trace::kHistLow))
          << f;
  }
}

// Every exponent, random mantissas: the table's bin equals floor(log10|v|)
// in long double (skipping values whose logarithm is within 1e-12 of an
// integer, where long double's log10 itself may round across) and the count
// of edges at or below |v|.
TEST(TraceSample, BinEqualsTheLogarithmOverEveryExponent) {
  std::mt19937 rng(7);
  const std::vector<float>& edges = trace::hist_edges_float();
  ASSERT_EQ(edges.size(), static_cast<size_t>(trace::kHistBins - 1));
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const float v = float_of_bits(static_cast<uint32_t>(rng()) & 0xff7fffffu);  // no NaN/Inf
    const long double a = std::fabs(static_cast<long double>(v));
    const int counted = static_cast<int>(
        std::upper_bound(edges.begin(), edges.end(), std::fabs(v)) - edges.begin());
    ASSERT_EQ(trace::hist_bin(v), counted) << v;
    if (a == 0) continue;
    const long double lg = std::log10(a);
    if (std::fabs(lg - std::nearbyint(lg)) < 1e-12L) continue;
    ASSERT_EQ(trace::hist_bin(v), bin_by_log(a)) << v;
    ++checked;
  }
  EXPECT_GT(checked, 190000);
}

// Values at and around powers of ten over all decades: the CPU path
// (float32, the bin table) and the general path (float64 and bfloat16,
// torch's bucketize on the edges) give the same histogram.
TEST(TraceSample, CpuAndGeneralPathsBinAlike) {
  std::vector<float> v;
  for (int k = -10; k <= 38; ++k) {
    const float near = static_cast<float>(std::pow(10.0L, k));
    v.insert(v.end(), {std::nextafter(near, 0.0f), near,
                       std::nextafter(near, std::numeric_limits<float>::infinity()), -near});
  }
  v.push_back(0.0f);
  v.push_back(std::numeric_limits<float>::infinity());
  const torch::Tensor x = torch::tensor(v).view({1, -1});
  trace::TraceAccumulator cpu(1, 1e6, 0), dbl(1, 1e6, 0);
  cpu.add({x}, 1);
  dbl.add({x.to(torch::kFloat64)}, 1);
  const trace::LayerStats a = cpu.reduce(nullptr)[0], b = dbl.reduce(nullptr)[0];
  EXPECT_EQ(a.hist, b.hist);
  EXPECT_EQ(a.hist[12], 4);  // 1000 (exact), 1000 + ulp, -1000, and 10000 - ulp is in [3, 4) too
  // bfloat16 values are floats: the same bins as those floats on the CPU path
  const torch::Tensor xb = x.to(torch::kBFloat16);
  trace::TraceAccumulator bf(1, 1e6, 0), bf_cpu(1, 1e6, 0);
  bf.add({xb}, 1);
  bf_cpu.add({xb.to(torch::kFloat)}, 1);
  EXPECT_EQ(bf.reduce(nullptr)[0].hist, bf_cpu.reduce(nullptr)[0].hist);
}
