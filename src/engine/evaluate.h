// Test-set evaluation: accuracy, mean cross-entropy and the number of
// samples whose logits are not finite (NaN/Inf: escaped activations).
#pragma once

#include "data/dataset.h"
#include "dist/communicator.h"
#include "engine/device.h"
#include "nn/network.h"
#include "trace/stats.h"

namespace sisyphus::train {

struct EvalResult {
  int64_t samples = 0;
  int64_t correct = 0;
  int64_t nonfinite = 0;  // samples with any NaN/Inf logit (counted as wrong)
  double loss_sum = 0;    // summed over the finite samples
  // Over all samples (a NaN/Inf output counts as wrong).
  double accuracy() const { return samples ? static_cast<double>(correct) / samples : 0.0; }
  // Over the samples with finite outputs only: the reference implementation's
  // figure (NaN samples leave the denominator), so an escaping network can
  // show a high value over few samples. Reported next to accuracy().
  double finite_accuracy() const {
    return samples > nonfinite
               ? static_cast<double>(correct) / static_cast<double>(samples - nonfinite)
               : 0.0;
  }
  double mean_loss() const {
    return samples > nonfinite ? loss_sum / static_cast<double>(samples - nonfinite) : 0.0;
  }
};

// `batch_size` is the global evaluation batch: with a communicator, each
// rank evaluates its share of every batch and the counts are summed, so the
// result equals a single-process evaluation with that batch (also for
// statistics taken over the batch: AMM's mm mode, synchronised).
// With `trace`, the outputs at every imitation point are added to it (the
// caller reduces and writes the record). The network must already be on
// `place`'s device; counts stay on the device until the end (no host
// synchronisation per batch).
EvalResult evaluate(nn::NetworkImpl& net, const data::ImageSet& set, const data::DatasetSpec& spec,
                    const Placement& place, int64_t batch_size, dist::Communicator* comm = nullptr,
                    trace::TraceAccumulator* trace = nullptr);

}  // namespace sisyphus::train
