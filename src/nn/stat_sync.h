// The all-reduces that batch-statistics layers (BatchNorm, AMM) need to take
// their statistics over all ranks' batches. nn does not know about ranks:
// the trainer builds a StatSync over its communicator and attaches it to a
// network's layers (attach_stat_sync); a layer without one uses its own
// batch only. Each layer holds its StatSync explicitly: no process-wide state.
#pragma once

#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>

#include <functional>
#include <memory>

namespace sisyphus::nn {

struct StatSync {
  std::function<void(torch::Tensor&)> sum;  // in place, over all ranks
  std::function<void(torch::Tensor&)> max;  // in place, over all ranks
};
using StatSyncPtr = std::shared_ptr<const StatSync>;

// Which layers of a network take their statistics over all ranks.
struct SyncScope {
  bool batchnorm = false;  // SyncBatchNorm
  bool amm = false;        // AMM's batch min/max
};

// Gives every BatchNorm (scope.batchnorm) and AMM (scope.amm) layer inside
// `module` the all-reduces of `sync`; the others (and all, for a null
// `sync`) use their own batch only.
void attach_stat_sync(torch::nn::Module& module, const StatSyncPtr& sync, SyncScope scope);

// A StatSync kept alive inside an autograd context (saved_data holds
// IValues): the backward pass uses the forward's all-reduces.
c10::IValue sync_capsule(const StatSyncPtr& sync);
StatSyncPtr sync_from_capsule(const c10::IValue& capsule);

}  // namespace sisyphus::nn
