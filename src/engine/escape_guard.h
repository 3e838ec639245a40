// The escape guard (the paper's "escaping activations"): after every step,
// the loss and the largest |x| at each checked imitation point are reduced
// over all ranks (one all-reduce of L+4 numbers, max), so every rank reaches
// the same verdict at the same step. NaN and Inf count as infinitely large.
// NaN/Inf in one rank's own gradients (seen before they were all-reduced)
// stop every rank at that step too, and the reading names the lowest rank
// that saw a fault of its own in it. Whether a stop signal reached some rank
// rides in the same all-reduce, so a step costs the ranks one collective.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "dist/communicator.h"

namespace sisyphus::train {

struct GuardReading {
  double loss = 0;              // largest loss over the ranks
  std::vector<double> max_abs;  // per checked point, over all ranks (inf: NaN/Inf seen)
  bool escaped = false;
  int64_t point = -1;         // first offending point (index into the outputs); -1: the loss
  double value = 0;           // its value
  bool grads = false;         // some rank's own gradients held NaN/Inf
  int first_rank = -1;        // the lowest rank whose own reading was at fault (-1: none)
  bool stop_signal = false;   // a stop signal reached some rank (StopSignal)
  std::string where() const;  // " (first seen on rank R)", or "" without a rank
};

// The largest |x| of each of outputs[0..checked) as float64 [checked] on the
// host (NaN: +inf; an empty output: 0), computed on the outputs' device and
// fetched in one transfer (one host synchronisation per step on a GPU).
torch::Tensor point_maxima(const std::vector<torch::Tensor>& outputs, size_t checked);

// outputs[0..checked) are checked; a rank without samples passes its (empty)
// outputs and loss 0. comm may be null (one process). stop_signal: one reached
// this rank.
GuardReading check_escape(const std::vector<torch::Tensor>& outputs, size_t checked, double loss,
                          double bound, dist::Communicator* comm, bool grads_nonfinite = false,
                          bool stop_signal = false);

}  // namespace sisyphus::train
