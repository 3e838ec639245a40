// The collectives a job's batch-statistics layers use (SyncBatchNorm, AMM's
// global min/max), built over the job's communicator and attached to a
// network explicitly. On one rank there are none: the layers use their batch.
#pragma once

#include <memory>

#include "engine/job.h"
#include "nn/stat_sync.h"

namespace sisyphus::train {

// Time spent in those all-reduces (reported per step by QuaIL), measured as
// the backend waits (dist/interval_timer.h: CUDA events under NCCL).
struct SyncTime {
  int64_t calls = 0;
  std::unique_ptr<dist::IntervalTimer> timer;  // null on one rank
  double seconds() const { return timer ? timer->seconds() : 0.0; }
};

struct StatCollectives {
  nn::StatSyncPtr sync;  // null on one rank
  std::shared_ptr<SyncTime> time = std::make_shared<SyncTime>();
};
StatCollectives stat_collectives(const Job& job);

// Attaches the job's collectives to the layers `scope` names (the others
// take their own batch's statistics).
void attach(const StatCollectives& c, torch::nn::Module& net, nn::SyncScope scope);

}  // namespace sisyphus::train
