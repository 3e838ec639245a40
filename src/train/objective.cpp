#include "train/objective.h"

#include <torch/torch.h>

namespace sisyphus::train {

Objective Objective::cross_entropy() { return Objective(); }

Objective Objective::imitation(nn::NetworkImpl& teacher, size_t point) {
  Objective o;
  o.teacher_ = &teacher;
  o.point_ = point;
  return o;
}

std::string Objective::describe(const nn::NetworkImpl& student) const {
  if (!imitates()) return "cross-entropy";
  return "MSE to the teacher's output at point " + student.points().at(point_).name;
}

torch::Tensor Objective::loss(const std::vector<torch::Tensor>& outs,
                              const data::Batch& batch) const {
  const torch::Tensor& mine = imitates() ? outs.at(point_) : outs.back();
  if (batch.size() == 0) return mine.sum() * 0.0;
  if (!imitates())
    return torch::nn::functional::cross_entropy(mine, batch.labels);  // fp32 under autocast
  torch::Tensor target;
  {
    torch::NoGradGuard no_grad;
    target =
        teacher_->forward_points(batch.images, point_).at(point_);  // the teacher stops at point l
  }
  return torch::mse_loss(mine.to(torch::kFloat32), target.to(torch::kFloat32));
}

}  // namespace sisyphus::train
