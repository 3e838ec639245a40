// `sisyphus eval`: a checkpoint on its data set's test split, optionally with
// its activations swapped (the paper's drop-in baselines: a trained ReLU
// network with x/2 or a fitted polynomial in every slot) and with a chosen
// AMM inference mode (amm, mm, extreme). Runs sharded under mpirun.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/evaluate.h"
#include "engine/job.h"
#include "settings/config.h"

namespace sisyphus::train {

struct EvalConfig {
  std::string checkpoint;        // path to a sisyphus checkpoint (.h5)
  std::string data_dir;          // empty: the data set's default location
  std::string act;               // empty: the checkpoint's own activations
  std::string amm_mode = "amm";  // AMM inference mode: amm, mm, biggest, extreme (nn/amm.h)
  int64_t batch_size = 100;      // global evaluation batch, split over the ranks
  int64_t test_limit = 0;        // first N test images only (0: all)
  int threads = 0;               // torch threads (0: the host's cores / local ranks)
  std::string backend = "auto";
  DeviceConfig dev;         // device, precision, memory format
  std::string result_file;  // append one CSV row per evaluation (rank 0)
  std::string label;        // the row's label and the trace's source (default: the checkpoint path)
  std::string
      save_logits;  // write the (normalised) inputs, labels and logits to this HDF5 file (rank 0)
  std::string trace_file;  // record activation statistics here (appending); with AMM,
                           // for each inference mode the network has statistics for
};

struct EvalReport {
  EvalResult result;                                      // with the chosen (or only) mode
  std::vector<std::pair<std::string, EvalResult>> modes;  // every mode evaluated

  std::string activation;  // the spec that was evaluated
  bool has_amm = false;
};

// Error(kConfig) naming the flag for settings that cannot work; called before
// the job starts (app/cli.cpp), so that every rank reports them the same way.
void check_eval_config(const EvalConfig& cfg);
// `job` is started by the caller from cfg's backend, threads and device.
EvalReport evaluate_checkpoint(const EvalConfig& cfg, const Job& job);

}  // namespace sisyphus::train
