// `sisyphus fold`: writes a checkpoint's deployable form (nn/fold.h) as a
// checkpoint of its own (attribute folded=1, stage "folded"), which `eval`,
// `cost` and PyTorch (docs/beyond.md) load like any other.
#pragma once

#include <cstdint>
#include <string>

#include "settings/checkpoint_config.h"

namespace sisyphus::train {

struct FoldReport {
  std::string activation;  // the folded slots' spec ("cpoly:degree=2", or "relu")
  int64_t norms = 0;       // BN layers folded into conv/linear layers
  int64_t slots = 0;       // activation slots
  int64_t parameters = 0;  // of the folded network
};

FoldReport fold_checkpoint(const FoldConfig& cfg);

}  // namespace sisyphus::train
