// `sisyphus quail`: Quadratic Imitation Learning (docs/quail.md) of a trained
// ReLU teacher, stage by stage (engine/quail_stage.h), distributed like the
// baseline trainer. After every epoch <run>/last.h5 holds the student, the
// stage, the epoch within it and the optimizer state; after every stage
// <run>/<stage>.h5 (mimic-03.h5, finetune-03.h5, ...) keeps the layer-wise
// result with stage, point, loss and accuracy as attributes. --resume goes
// on from last.h5 (mid-stage or at the next stage) and ends with the weights
// of an uninterrupted run; SIGUSR1 or SIGTERM stops every rank at the next
// step boundary with its state in last.h5 (mid-epoch included). The escape guard stops a stage
// whose loss or outputs become non-finite or exceed --escape-bound, naming stage, point and step;
// checkpoints already written stay as they were.
#pragma once

#include <string>

#include "engine/evaluate.h"
#include "engine/job.h"
#include "settings/config.h"

namespace sisyphus::train {

struct QuailResult {
  EvalResult eval;               // the final student on the test set (AMM mode amm)
  std::string final_checkpoint;  // the last stage's file
  int64_t stages_run = 0;        // stages finished in this invocation
  bool escaped = false;          // stopped by the escape guard (with continue_on_escape)
  std::string escape_message;
  bool stopped_early = false;  // --stop-after-epochs ended this invocation
  // A stop signal ended this invocation with its state in last.h5: what
  // happened, for the log. Empty otherwise.
  std::string interrupted;
};

// `job` is started by the caller after resolve(cfg) (app/cli.cpp).
QuailResult run_quail(QuailConfig cfg, Job& job);

}  // namespace sisyphus::train
