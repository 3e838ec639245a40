// `sisyphus cost`: a checkpoint's HE cost (nn/he_cost.h) per layer and in
// total, beside the same network with ReLU composites, printed as a table
// and optionally written as CSV.
#pragma once

#include <string>

#include "nn/he_cost.h"
#include "settings/checkpoint_config.h"

namespace sisyphus::train {

nn::CostReport cost_checkpoint(const CostConfig& cfg);

}  // namespace sisyphus::train
