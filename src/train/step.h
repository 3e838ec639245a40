// One optimizer step of supervised training: forward, cross-entropy,
// backward, gradient all-reduce, update. Shared by the training stages and the benchmarks so
// that what is benchmarked is what trains.
#pragma once

#include "data/loader.h"
#include "dist/reducer.h"
#include "nn/network.h"
#include "train/device.h"
#include "train/sgd.h"

namespace sisyphus::train {

struct StepResult {
  double loss = 0;      // mean cross-entropy of the batch
  int64_t correct = 0;  // argmax hits in the batch
};

// With a reducer, the gradients are averaged over all ranks' batches
// (global_count samples in all) before the update. A rank without a batch
// this step passes an empty batch and still takes part in the reduction;
// with empty_forward it also runs the network on its [0, C, H, W] images, so
// that synchronised BatchNorm layers get their collectives from every rank.
// With `outputs`, the network runs through forward_points and the (detached)
// outputs at every imitation point are returned there (activation traces).
// A step's mean loss and argmax hits, fetched to the host in one transfer
// (one synchronisation per step on a GPU).
struct StepFigures {
  double loss = 0;
  int64_t correct = 0;
};
StepFigures fetch_step_figures(const torch::Tensor& loss, const torch::Tensor& logits, const torch::Tensor& labels);

// The forward pass runs under `place`'s precision (bf16 autocast or fp32).
StepResult train_step(nn::NetworkImpl& net, Sgd& sgd, const data::Batch& batch, const Placement& place, double lr,
                      dist::GradientReducer* reducer = nullptr, int64_t global_count = 0,
                      bool empty_forward = false, std::vector<torch::Tensor>* outputs = nullptr);

}  // namespace sisyphus::train
