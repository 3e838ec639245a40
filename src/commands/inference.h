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
#include "settings/checkpoint_config.h"

namespace sisyphus::train {

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
