// The sampled part of a trace record (trace/stats.h): which values of every
// image the histogram and the moments are taken over, the histogram's bins
// by exact comparison with powers of ten, and the sample's sums over a
// float32 batch in memory in one pass (the CPU path; no torch here).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "trace/record.h"

namespace sisyphus::trace {

// The stride between sampled positions of an image of `image_values` values
// when `per_image` are asked for: positions 0, stride, 2 stride, ... below
// image_values. An odd stride, so the positions spread over channels and
// pixels alike; 1 (every value) when per_image <= 0 or the image is no larger.
int64_t sample_stride(int64_t image_values, int64_t per_image);

// The bin edges 10^(kHistLow + 1), ..., 10^(kHistLow + kHistBins - 1) as the
// smallest float (double) not below each: |v| >= edge[i] exactly when
// |v| >= 10^(kHistLow + 1 + i), so the number of edges at or below |v| is
// v's bin (record.h) with no rounding of a logarithm. Edges beyond a type's
// range are +Inf (only an Inf reaches them: the last bin).
const std::vector<float>& hist_edges_float();
const std::vector<double>& hist_edges_double();

// The bin of a float that is not NaN (the same as counting hist_edges_float
// at or below |v|), from its binary exponent and one comparison.
int hist_bin(float v);

// The histogram and the moments of one point's sample over a batch of
// `images` images of `image_values` float32 values each, contiguous; with
// `channels` > 0 the images are kept channels-last (NHWC) with that many
// channels, and the same NCHW positions are read where that memory keeps
// them, in the same order (the same sums, bit for bit).
struct SampleSums {
  int64_t finite = 0;                     // finite values in the sample: the moments' count
  double sum = 0, sumsq = 0;              // of the finite values, in sample order
  std::array<int64_t, kHistBins> hist{};  // every non-NaN value of the sample
};
SampleSums sample_sums(const float* values, int64_t images, int64_t image_values, int64_t per_image,
                       int64_t channels);

}  // namespace sisyphus::trace
