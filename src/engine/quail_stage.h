// A run's stages (engine/run.h runs each): their order, what each trains and
// when the network is tested. Their objectives are in engine/objective.h.
//
//   baseline      `sisyphus train` (the paper's step 1): one stage, every
//                 point trains with cross-entropy.
// QuaIL's stages (docs/quail.md):
//   mimic-<l>     l = 0..L-1: only point l trains; loss = MSE between the
//                 student's and the (frozen, eval-mode) teacher's output at
//                 point l. Earlier points are frozen.
//   finetune-<l>  l = L-1..0: points >= l train with cross-entropy.
// Progressive replacement instead of imitation (--method, docs/beyond.md):
//   replace-<l>   for each activation slot l in order: slots <= l compute the
//                 polynomial, the later ones still ReLU; every point trains
//                 with cross-entropy.
//   blend         one stage: every slot computes (1 - t) ReLU + t poly, t
//                 rising linearly from 0 to 1 over the stage's first half,
//                 then the polynomial alone; every point trains.
#pragma once

#include <string>
#include <vector>

#include "settings/config.h"

namespace sisyphus::train {

enum class StageKind { kBaseline, kMimic, kFineTune, kReplace, kBlend };

struct Stage {
  std::string name;  // "mimic-03", "finetune-03", "replace-03", "blend"
  StageKind kind = StageKind::kMimic;
  size_t point = 0;
  int64_t epochs = 0;
  bool mimic() const { return kind == StageKind::kMimic; }
};

// The baseline's one stage of `epochs` epochs.
Stage baseline_stage(int64_t epochs);
// QuaIL's stages in order; kinds with 0 epochs are left out.
std::vector<Stage> plan_stages(size_t num_points, int64_t mimic_epochs, int64_t finetune_epochs);
// --method progressive: a replace stage per slotted point (`slotted`, in
// order); blend: the one blend stage. `epochs` each.
std::vector<Stage> plan_replacement(Method method, const std::vector<size_t>& slotted,
                                    int64_t epochs);
// The blend weight after `done` of a blend stage's `total` steps.
double blend_weight(int64_t done, int64_t total);
// trainable[l] for the stage.
std::vector<bool> stage_trainable(const Stage& stage, size_t num_points);

// When the student is tested (--evaluate): kReference after the last epoch
// of the last mimic stage and of the last stage (the reference code tests
// there: earlier, the later AMM layers are still untrained), kStages after
// every stage, kEpochs after every epoch.
bool evaluation_due(Evaluation policy, const std::vector<Stage>& stages, size_t stage,
                    int64_t epoch);

}  // namespace sisyphus::train
