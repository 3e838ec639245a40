#include "nn/stat_sync.h"

#include "nn/amm.h"
#include "nn/batchnorm.h"

namespace sisyphus::nn {
namespace {

struct SyncHolder : torch::CustomClassHolder {
  explicit SyncHolder(StatSyncPtr s) : sync(std::move(s)) {}
  StatSyncPtr sync;
};

}  // namespace

void attach_stat_sync(torch::nn::Module& module, const StatSyncPtr& sync, SyncScope scope) {
  for (const auto& m : module.modules(/*include_self=*/true)) {
    if (auto* bn = dynamic_cast<BatchNormImpl*>(m.get()))
      bn->set_sync(scope.batchnorm ? sync : nullptr);
    if (auto* amm = dynamic_cast<AmmImpl*>(m.get())) amm->set_sync(scope.amm ? sync : nullptr);
  }
}

c10::IValue sync_capsule(const StatSyncPtr& sync) {
  return c10::IValue::make_capsule(c10::make_intrusive<SyncHolder>(sync));
}

StatSyncPtr sync_from_capsule(const c10::IValue& capsule) {
  return static_cast<SyncHolder*>(capsule.toCapsule().get())->sync;
}

}  // namespace sisyphus::nn
