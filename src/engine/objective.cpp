#include "engine/objective.h"

#include <torch/torch.h>

namespace sisyphus::train {

Objective Objective::cross_entropy() { return Objective(); }

Objective Objective::imitation(nn::NetworkImpl& teacher, size_t point, bool student_stops) {
  Objective o;
  o.teacher_ = &teacher;
  o.point_ = point;
  o.student_stops_ = student_stops;
  return o;
}

Objective& Objective::with_range_penalty(nn::NetworkImpl& student, double lambda) {
  penalised_ = lambda > 0 ? &student : nullptr;
  lambda_ = lambda;
  return *this;
}

std::string Objective::describe(const nn::NetworkImpl& student) const {
  std::string s = imitates()
                      ? "MSE to the teacher's output at point " + student.points().at(point_).name
                      : "cross-entropy";
  if (penalised_) s += " + range penalty";
  return s;
}

torch::Tensor Objective::loss(const std::vector<torch::Tensor>& outs,
                              const data::Batch& batch) const {
  torch::Tensor main = main_loss(outs, batch);
  if (!penalised_) return main;
  torch::Tensor sum;
  for (const auto& p : penalised_->points()) {
    if (p.slot.is_empty()) continue;
    nn::ActivationSlot slot = p.slot;  // a handle to the network's slot
    torch::Tensor t = slot->take_penalty();
    if (t.defined()) sum = sum.defined() ? sum + t : t;
  }
  return sum.defined() ? main + lambda_ * sum : main;
}

torch::Tensor Objective::main_loss(const std::vector<torch::Tensor>& outs,
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
  // in fp32 at least (bf16 activations under autocast); fp64 stays fp64
  const auto wide = [](const torch::Tensor& t) {
    return t.scalar_type() == torch::kFloat64 ? t : t.to(torch::kFloat32);
  };
  return torch::mse_loss(wide(mine), wide(target));
}

}  // namespace sisyphus::train
