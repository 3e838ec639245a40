// A network's input side as its data set gives it: the shape a network is
// built for, and a probe batch of that shape.
#pragma once

#include <torch/types.h>

#include "data/dataset.h"
#include "nn/sequential_net.h"

namespace sisyphus::train {

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm = true, bool folded = false);
// A zero batch of one input of the data set's shape (for probing networks).
torch::Tensor probe_input(const data::DatasetSpec& spec);

}  // namespace sisyphus::train
