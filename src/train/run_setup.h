// What a training command sets up before its first step: the run folder,
// the data splits and the network's input shape.
#pragma once

#include <torch/types.h>

#include <string>

#include "data/dataset.h"
#include "nn/sequential_net.h"
#include "train/job.h"

namespace sisyphus::train {

// <checkpoint_dir>/<run>/ made by rank 0; returns its last.h5 path.
// Error(kConfig) when the run has a checkpoint and resume is off (a run is
// never overwritten).
std::string prepare_run_dir(const Job& job, const std::string& checkpoint_dir,
                            const std::string& run, bool resume);

// The data set's train and test splits, each cut to its first `limit`
// images when limit > 0.
struct Splits {
  data::ImageSet train, test;
};
Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit);

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm = true, bool folded = false);
// A zero batch of one input of the data set's shape (for probing networks).
torch::Tensor probe_input(const data::DatasetSpec& spec);

}  // namespace sisyphus::train
