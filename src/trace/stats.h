// Accumulates trace statistics from a network's point outputs over batches
// and reduces them over the ranks: global min/max (one all-reduce, max), and
// summed counts, moments and histograms (one all-reduce, sum), so R ranks
// give the record of one process over the combined samples.
#pragma once

#include <torch/types.h>

#include <vector>

#include "dist/communicator.h"
#include "trace/record.h"

namespace sisyphus::trace {

class TraceAccumulator {
 public:
  TraceAccumulator(size_t points, double bound);
  // outputs[l]: the output at point l of one batch (any shape, any device)
  void add(const std::vector<torch::Tensor>& outputs, int64_t samples);
  // Statistics over everything added on every rank (a collective when comm
  // has several ranks: every rank must call it at the same moment).
  std::vector<LayerStats> reduce(dist::Communicator* comm, int64_t* samples = nullptr) const;
  void reset();

 private:
  size_t points_;
  double bound_;
  torch::Tensor
      sums_;  // [L, 7 + bins] float64: count, finite, sum, sumsq, nan, inf, above, hist...
  torch::Tensor extreme_;  // [L, 3] float64: -min, max, max_abs (reduced with max)
  int64_t samples_ = 0;
};

}  // namespace sisyphus::trace
