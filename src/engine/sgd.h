// SGD with momentum, Nesterov and weight decay, with PyTorch's semantics
// (torch.optim.SGD, dampening 0). Ours so its state is addressed by
// parameter name, which is what checkpoints store and what lets QuaIL stages
// skip frozen parameters.
//
// The update runs as torch.optim.SGD(foreach=True) does: one _foreach_ call
// per arithmetic operation over all parameters (on a GPU a few multi-tensor
// kernels per step instead of about five kernels per parameter). Each
// element sees the same operations in the same order as a per-parameter
// loop, so on the CPU the result is the same bit for bit (tested).
#pragma once

#include <torch/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "settings/config.h"

namespace sisyphus::train {

class Sgd {
 public:
  Sgd(std::vector<std::pair<std::string, torch::Tensor>> params, OptimConfig cfg);

  // One update with learning rate `lr` (the gradients first clipped to the
  // global norm cfg.grad_clip when it is > 0); parameters without a gradient
  // or with requires_grad false are left alone.
  void step(double lr);
  void zero_grad();  // drops the gradients (set to undefined, as the paper's code does)

  // momentum buffers by parameter name, for checkpoints
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state,
                  const std::string& source);

 private:
  void clip_gradients(const std::vector<torch::Tensor>& grads);
  std::vector<std::pair<std::string, torch::Tensor>> params_;
  OptimConfig cfg_;
  std::map<std::string, torch::Tensor> momentum_;
};

// Cosine annealing over epochs, as torch's CosineAnnealingLR stepped once per
// epoch: lr(e) = lr_min + (lr - lr_min) * (1 + cos(pi * e / epochs)) / 2.
double cosine_lr(const OptimConfig& cfg, int64_t epoch, int64_t epochs);

}  // namespace sisyphus::train
