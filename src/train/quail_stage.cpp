#include "train/quail_stage.h"

#include <torch/torch.h>

#include <cstdio>

#include "core/error.h"
#include "train/step.h"

namespace sisyphus::train {

std::vector<Stage> plan_stages(size_t num_points, int64_t mimic_epochs, int64_t finetune_epochs) {
  std::vector<Stage> stages;
  auto name = [](const char* kind, size_t l) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s-%02zu", kind, l);
    return std::string(buf);
  };
  if (mimic_epochs > 0)
    for (size_t l = 0; l < num_points; ++l) stages.push_back({name("mimic", l), true, l, mimic_epochs});
  if (finetune_epochs > 0)
    for (size_t l = num_points; l-- > 0;) stages.push_back({name("finetune", l), false, l, finetune_epochs});
  return stages;
}

std::vector<bool> stage_trainable(const Stage& stage, size_t num_points) {
  std::vector<bool> t(num_points, false);
  for (size_t l = 0; l < num_points; ++l) t[l] = stage.mimic ? l == stage.point : l >= stage.point;
  return t;
}

void check_evaluation_policy(const std::string& policy) {
  SISYPHUS_CHECK(policy == "reference" || policy == "stages" || policy == "epochs", ErrorKind::kConfig,
                 "bad value for --evaluate: '" + policy + "' is not one of reference, stages, epochs");
}

bool evaluation_due(const std::string& policy, const std::vector<Stage>& stages, size_t s, int64_t epoch) {
  check_evaluation_policy(policy);
  const bool stage_end = epoch + 1 == stages.at(s).epochs;
  if (policy == "epochs") return true;
  if (policy == "stages" || !stage_end) return stage_end;
  const bool last_stage = s + 1 == stages.size();
  const bool last_mimic = stages[s].mimic && (last_stage || !stages[s + 1].mimic);
  return last_stage || last_mimic;
}

StageStepResult stage_step(const Stage& stage, nn::NetworkImpl& student, nn::NetworkImpl& teacher,
                           Sgd& sgd, const data::Batch& batch, const Placement& place, double lr,
                           dist::GradientReducer* reducer, int64_t global_count) {
  sgd.zero_grad();
  if (reducer) reducer->begin_step(batch.size(), global_count);
  std::vector<torch::Tensor> outs;
  torch::Tensor loss;
  {
    AutocastScope autocast(place);
    outs = student.forward_points(batch.images);
    if (batch.size() == 0) {
      loss = outs[stage.mimic ? stage.point : outs.size() - 1].sum() * 0.0;
    } else if (stage.mimic) {
      torch::Tensor target;
      {
        torch::NoGradGuard no_grad;
        target = teacher.forward_points(batch.images).at(stage.point);
      }
      loss = torch::mse_loss(outs[stage.point].to(torch::kFloat32), target.to(torch::kFloat32));
    } else {
      loss = torch::nn::functional::cross_entropy(outs.back(), batch.labels);
    }
  }
  if (loss.requires_grad()) loss.backward();
  if (reducer) reducer->finish_step();
  sgd.step(lr);
  StageStepResult r;
  if (batch.size() > 0) {
    const StepFigures f = fetch_step_figures(loss, outs.back(), batch.labels);
    r.loss = f.loss;
    r.correct = f.correct;
  }
  for (auto& o : outs) r.outputs.push_back(o.detach());
  return r;
}

}  // namespace sisyphus::train
