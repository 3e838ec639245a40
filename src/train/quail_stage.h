// QuaIL's stages (docs/quail.md): what each trains, and one optimizer step of it.
//
//   mimic-<l>     l = 0..L-1: only point l trains; loss = MSE between the
//                 student's and the (frozen, eval-mode) teacher's output at
//                 point l. Earlier points are frozen.
//   finetune-<l>  l = L-1..0: points >= l train with cross-entropy.
#pragma once

#include <string>
#include <vector>

#include "data/loader.h"
#include "dist/reducer.h"
#include "nn/network.h"
#include "train/device.h"
#include "train/sgd.h"

namespace sisyphus::train {

struct Stage {
  std::string name;   // "mimic-03", "finetune-03"
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
bool evaluation_due(const std::string& policy, const std::vector<Stage>& stages, size_t stage, int64_t epoch);

struct StageStepResult {
  double loss = 0;                    // this rank's mean loss (0 without samples)
  int64_t correct = 0;                // argmax hits of the student's logits
  std::vector<torch::Tensor> outputs; // the student's outputs at every point (detached)
};

// One step: forward of student (and teacher for mimic stages), loss,
// backward, gradient all-reduce (reducer may be null), update. A rank
// without samples runs the student on its empty batch and a zero loss, so
// that synchronising layers (AMM) and the reducer see every rank.
StageStepResult stage_step(const Stage& stage, nn::NetworkImpl& student, nn::NetworkImpl& teacher,
                           Sgd& sgd, const data::Batch& batch, const Placement& place, double lr,
                           dist::GradientReducer* reducer, int64_t global_count);

}  // namespace sisyphus::train
