// Checking that every rank holds the same model (DDP's invariant).
#pragma once

#include <torch/nn/module.h>

#include <string>

#include "dist/communicator.h"

namespace sisyphus::train {

// Every rank's parameter+buffer checksum on rank 0's log; Error(kMpi) when
// they differ. `when` names the moment ("epoch 3"). Nothing on one rank.
void verify_ranks(dist::Communicator& comm, const torch::nn::Module& module,
                  const std::string& when);

}  // namespace sisyphus::train
