// What a training step minimises: the paper's two objectives.
//   cross-entropy            the baseline (step 1) and QuaIL's fine-tune stages
//   imitation at point l     QuaIL's mimic stage l: MSE between the student's
//                            and the frozen ReLU teacher's output at point l
// either one optionally plus a range penalty over every activation input
// (beyond the paper, docs/beyond.md).
// The epoch runner and the step take an Objective; nothing else in them
// depends on which stage of the paper is running.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/loader.h"
#include "nn/network.h"

namespace sisyphus::train {

class Objective {
 public:
  static Objective cross_entropy();
  // `teacher` (evaluation mode, frozen) must outlive the objective. With
  // `student_stops` the student's forward stops at `point` too (outputs()).
  static Objective imitation(nn::NetworkImpl& teacher, size_t point, bool student_stops = false);

  // Adds lambda * sum over `student`'s slots of their range penalty
  // (nn::RangeControl, set on the slots); `student` must outlive the objective.
  Objective& with_range_penalty(nn::NetworkImpl& student, double lambda);

  bool imitates() const { return teacher_ != nullptr; }
  size_t point() const { return point_; }
  // The last point whose output the step computes: the logits (SIZE_MAX),
  // or the imitated point when the student stops there.
  size_t last_output() const { return student_stops_ ? point_ : SIZE_MAX; }
  // "cross-entropy", "MSE to the teacher's output at point features.2"
  std::string describe(const nn::NetworkImpl& student) const;
  // The batch's mean loss from the student's outputs: every point's
  // (imitation) or at least the logits (outs.back()). A batch without
  // samples gives a zero that still depends on the outputs, so that
  // backward reaches every layer that synchronises across ranks.
  torch::Tensor loss(const std::vector<torch::Tensor>& outs, const data::Batch& batch) const;

 private:
  torch::Tensor main_loss(const std::vector<torch::Tensor>& outs, const data::Batch& batch) const;
  nn::NetworkImpl* teacher_ = nullptr;
  size_t point_ = 0;
  bool student_stops_ = false;
  nn::NetworkImpl* penalised_ = nullptr;
  double lambda_ = 0;
};

}  // namespace sisyphus::train
