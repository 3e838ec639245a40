// `sisyphus cost`: a checkpoint's HE cost (nn/he_cost.h) per layer and in
// total, beside the same network with ReLU composites, printed as a table
// and optionally written as CSV.
#pragma once

#include <string>

#include "nn/he_cost.h"

namespace sisyphus::train {

struct CostConfig {
  std::string checkpoint;
  std::string amm_mode = "amm";           // which AMM statistics (mm has no fixed map)
  std::string sign_degrees = "15,15,27";  // ReLU's sign approximation: odd degrees, composed
  std::string csv;                        // one row per layer, then the totals
  bool layers = true;                     // print every layer (off: totals only)
};

nn::CostReport cost_checkpoint(const CostConfig& cfg);

}  // namespace sisyphus::train
