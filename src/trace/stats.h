// Accumulates trace statistics from a network's point outputs over batches
// and reduces them over the ranks: global min/max (one all-reduce, max), and
// summed counts, moments and histograms (one all-reduce, sum), so R ranks
// give the record of one process over the combined samples.
#pragma once

#include <torch/types.h>

#include <vector>

#include "dist/communicator.h"
#include "dist/interval_timer.h"
#include "trace/record.h"

namespace sisyphus::trace {

// What a record costs: one pass over every value of a point, and the
// histogram and the moments over a fixed sample of every image's values
// (kTraceSamplePerImage, the same positions in each image). Exact over every
// value: count, min, max, max |x|, NaN, Inf and above. On a CPU (float32) the
// pass is scan.h's, whatever NaN/Inf the batch holds; elsewhere it is torch's
// min and max, and NaN/Inf, above count cost more passes only when the batch
// has NaN/Inf or max |x| exceeds the bound. The sample's histogram and
// moments on a CPU: sample.h's one loop; elsewhere torch's calls on the
// same positions and bins. docs/trace-format.md.
class TraceAccumulator {
 public:
  // sample_per_image 0: the histogram and moments over every value (a few
  // passes more per point: about 3x the evaluation's own time on a CPU).
  TraceAccumulator(size_t points, double bound, int64_t sample_per_image = kTraceSamplePerImage);
  // outputs[l]: the output at point l of one batch (any shape, any device)
  void add(const std::vector<torch::Tensor>& outputs, int64_t samples);
  // The same a point at a time, as a forward pass computes them
  // (NetworkImpl::forward_observed): add_point for some of the points of one
  // batch, in any order, then end_batch. On a CPU (float32) a point's
  // statistics are taken at once and its output is not kept; elsewhere the
  // outputs are kept until end_batch (two host transfers per batch).
  void add_point(size_t l, const torch::Tensor& output);
  void end_batch(int64_t samples);
  // Statistics over everything added on every rank (a collective when comm
  // has several ranks: every rank must call it at the same moment).
  std::vector<LayerStats> reduce(dist::Communicator* comm, int64_t* samples = nullptr) const;
  void reset();
  int64_t samples() const { return samples_; }  // input samples added since the reset (this rank)
  // Batches whose statistics were computed in this accumulator's life (not
  // reset): what traces cost; a switch that turns traces off leaves it alone.
  int64_t batches_computed() const { return batches_computed_; }
  // Wall seconds spent in add, add_point, end_batch and reduce in this
  // accumulator's life (not reset): what the statistics cost the run.
  double seconds() const { return timer_.seconds(); }

 private:
  size_t points_;
  double bound_;
  int64_t per_image_;
  torch::Tensor
      sums_;  // [L, 7 + bins] float64: count, in-moments, sum, sumsq, nan, inf, above, hist...
  torch::Tensor extreme_;  // [L, 3] float64: -min, max, max_abs (reduced with max)
  int64_t samples_ = 0;
  int64_t batches_computed_ = 0;
  mutable dist::HostTimer timer_;  // the time in add_point, end_batch and reduce
  // The batch being added: whether a point was taken on the CPU path, and
  // the outputs kept (elsewhere) with their samples, extremes and points.
  struct Pending {
    bool scanned = false;
    std::vector<torch::Tensor> xs, picked, extremes;
    std::vector<int64_t> index;
  } pending_;
  void add_scanned(size_t l, const torch::Tensor& out, const torch::Tensor& x);
};

}  // namespace sisyphus::trace
