// A network rebuilt from a checkpoint: its architecture, form (folded or
// not), activations and every tensor. Shared by eval, fold and cost.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"
#include "io/checkpoint.h"
#include "nn/network.h"

namespace sisyphus::train {

struct SavedNetwork {
  io::Checkpoint ckpt;
  const data::DatasetSpec* spec = nullptr;
  nn::Network net;
  std::vector<std::string> missing;  // optional tensors the checkpoint predates (NaN-filled)
};

// Error(kCheckpoint) naming the file when it cannot be read, was written for
// other input shapes than its data set's, or its tensors do not fit.
SavedNetwork load_saved_network(const std::string& path);

}  // namespace sisyphus::train
