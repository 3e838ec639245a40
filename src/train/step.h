// One optimizer step of supervised training: forward, cross-entropy,
// backward, update. Shared by the training stages and the benchmarks so
// that what is benchmarked is what trains.
#pragma once

#include "data/loader.h"
#include "nn/network.h"
#include "train/sgd.h"

namespace sisyphus::train {

struct StepResult {
  double loss = 0;      // mean cross-entropy of the batch
  int64_t correct = 0;  // argmax hits in the batch
};

StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch, double lr);

}  // namespace sisyphus::train
