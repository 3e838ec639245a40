// QuaIL's stages (docs/quail.md): their order, what each trains and when the
// student is tested. Their objectives are in train/objective.h.
//
//   mimic-<l>     l = 0..L-1: only point l trains; loss = MSE between the
//                 student's and the (frozen, eval-mode) teacher's output at
//                 point l. Earlier points are frozen.
//   finetune-<l>  l = L-1..0: points >= l train with cross-entropy.
#pragma once

#include <string>
#include <vector>

namespace sisyphus::train {

struct Stage {
  std::string name;  // "mimic-03", "finetune-03"
  bool mimic = true;
  size_t point = 0;
  int64_t epochs = 0;
};

// All stages in order; kinds with 0 epochs are left out.
std::vector<Stage> plan_stages(size_t num_points, int64_t mimic_epochs, int64_t finetune_epochs);
// trainable[l] for the stage.
std::vector<bool> stage_trainable(const Stage& stage, size_t num_points);

// When the student is tested (--evaluate): "reference" after the last epoch
// of the last mimic stage and of the last stage (the reference code tests
// there: earlier, the later AMM layers are still untrained), "stages" after
// every stage, "epochs" after every epoch. Error(kConfig) for other names.
void check_evaluation_policy(const std::string& policy);
bool evaluation_due(const std::string& policy, const std::vector<Stage>& stages, size_t stage,
                    int64_t epoch);

}  // namespace sisyphus::train
