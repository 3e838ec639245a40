// `sisyphus fold`: writes a checkpoint's deployable form (nn/fold.h) as a
// checkpoint of its own (attribute folded=1, stage "folded"), which `eval`,
// `cost` and PyTorch (docs/beyond.md) load like any other.
#pragma once

#include <string>

namespace sisyphus::train {

struct FoldConfig {
  std::string checkpoint;        // the trained network
  std::string out;               // the folded checkpoint to write (never over the input)
  std::string amm_mode = "amm";  // which AMM statistics become coefficients: amm, biggest, extreme
};

struct FoldReport {
  std::string activation;  // the folded slots' spec ("cpoly:degree=2", or "relu")
  int64_t norms = 0;       // BN layers folded into conv/linear layers
  int64_t slots = 0;       // activation slots
  int64_t parameters = 0;  // of the folded network
};

FoldReport fold_checkpoint(const FoldConfig& cfg);

}  // namespace sisyphus::train
