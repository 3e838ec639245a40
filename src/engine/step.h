// One optimizer step, the same for every stage of the paper: forward,
// objective, backward, gradient all-reduce, update. Shared by the epoch
// runner and the benchmarks so that what is benchmarked is what trains.
#pragma once

#include <vector>

#include "data/loader.h"
#include "dist/reducer.h"
#include "engine/device.h"
#include "engine/objective.h"
#include "engine/sgd.h"
#include "nn/network.h"

namespace sisyphus::train {

struct StepResult {
  double loss = 0;                     // this rank's mean loss (0 without samples)
  int64_t correct = 0;                 // argmax hits of the logits
  bool grads_nonfinite = false;        // this rank's own gradients held NaN/Inf (before reduction)
  std::vector<torch::Tensor> outputs;  // with keep_outputs: every point's output (detached)
};

// A step's mean loss and argmax hits (none with undefined logits: a forward
// that stopped before them), fetched to the host in one transfer (one
// synchronisation per step on a GPU).
struct StepFigures {
  double loss = 0;
  int64_t correct = 0;
  bool flag = false;  // `flag`'s value (false when undefined)
};
StepFigures fetch_step_figures(const torch::Tensor& loss, const torch::Tensor& logits,
                               const torch::Tensor& labels, const torch::Tensor& flag = {});

// The gradients are averaged over all ranks' batches (global_count samples
// in all) by `reducer` before the update (a no-op on one rank). A rank
// without samples this step runs the network on its empty batch all the
// same, so that layers synchronising across ranks (SyncBN, AMM) and the
// reducer see every rank. The network runs through forward_points when the
// objective or `keep_outputs` needs every point's output; the forward pass
// runs under `place`'s precision (bf16 autocast or fp32).
StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch,
                      const Placement& place, double lr, const Objective& objective,
                      dist::GradientReducer& reducer, int64_t global_count,
                      bool keep_outputs = false);

}  // namespace sisyphus::train
