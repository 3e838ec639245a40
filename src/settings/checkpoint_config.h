// Settings of the commands that take a finished checkpoint: `eval`, `fold`
// and `cost`. Their rows (flag, help, rule) are tables in settings/settings.h
// like train's and quail's. No torch here.
#pragma once

#include <cstdint>
#include <string>

#include "settings/config.h"

namespace sisyphus::train {

// `sisyphus eval`: a checkpoint on its data set's test split (commands/inference.h).
struct EvalConfig {
  std::string checkpoint;        // path to a sisyphus checkpoint (.h5)
  std::string data_dir;          // empty: the data set's default location
  std::string act;               // empty: the checkpoint's own activations
  std::string amm_mode = "amm";  // AMM inference mode: amm, mm, biggest, extreme (nn/amm.h)
  int64_t batch_size = 100;      // global evaluation batch, split over the ranks
  int64_t test_limit = 0;        // first N test images only (0: all)
  JobConfig job;                 // threads, communication, device
  std::string result_file;       // append one CSV row per evaluation (rank 0)
  std::string label;  // the row's label and the trace's source (default: the checkpoint path)
  std::string
      save_logits;  // write the (normalised) inputs, labels and logits to this HDF5 file (rank 0)
  std::string trace_file;  // record activation statistics here (appending); with AMM,
                           // for each inference mode the network has statistics for
};

// `sisyphus fold`: a checkpoint's deployable form (commands/fold_command.h).
struct FoldConfig {
  std::string checkpoint;        // the trained network
  std::string out;               // the folded checkpoint to write (never over the input)
  std::string amm_mode = "amm";  // which AMM statistics become coefficients: amm, biggest, extreme
};

// `sisyphus cost`: a checkpoint's HE cost (commands/cost_command.h).
struct CostConfig {
  std::string checkpoint;
  std::string amm_mode = "amm";           // which AMM statistics (mm has no fixed map)
  std::string sign_degrees = "15,15,27";  // ReLU's sign approximation: odd degrees, composed
  std::string csv;                        // one row per layer, then the totals
  bool layers = true;                     // print every layer (off: totals only)
};

}  // namespace sisyphus::train
