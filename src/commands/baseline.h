// Stage 1 of the paper: train the ReLU baseline network.
//
// Reads the data set, builds the network, and runs `epochs` epochs of SGD
// with a cosine schedule, evaluating and checkpointing after every epoch to
// <checkpoint_dir>/<run>/last.h5 (atomically) with metrics in metrics.csv.
// With cfg.output.resume it continues from last.h5 and ends with exactly the weights
// an uninterrupted run would have. SIGUSR1 or SIGTERM (core/stop_signal.h)
// stops every rank at the next step boundary with the state in last.h5,
// mid-epoch included.
#pragma once

#include <string>

#include "engine/evaluate.h"
#include "engine/job.h"
#include "settings/config.h"

namespace sisyphus::train {

struct BaselineResult {
  EvalResult eval;          // test-set result after the last epoch
  std::string checkpoint;   // path of last.h5
  int64_t epochs_run = 0;   // epochs trained in this invocation
  double images_per_s = 0;  // training throughput of this invocation
  // A stop signal ended this invocation with its state in last.h5 (inside an
  // epoch or at its end): what happened, for the log. Empty otherwise.
  std::string interrupted;
};

// `job` is started by the caller (app/cli.cpp: after resolve(cfg), so that
// bad settings are reported before any rank connects) from cfg's backend,
// threads and device settings.
BaselineResult train_baseline(TrainConfig cfg, const Job& job);

}  // namespace sisyphus::train
