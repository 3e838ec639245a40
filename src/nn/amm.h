// AMM, approximate min-max normalisation (docs/quail.md), placed before every
// polynomial activation: conv/linear -> BN -> AMM -> Quad.
//
//   y = 2 (x - min) / max(max - min, eps) - 1     per channel, in [-1, 1]
//
// min/max are per channel: over N, H, W for [N, C, H, W] inputs, over N for
// [N, C]. In training mode they are the batch's, with gradients through both,
// and the running estimates follow running = 0.9 running + 0.1 batch (the
// first batch sets them); the running extremes keep the smallest min and
// largest max seen. In evaluation mode the statistics come from the mode:
//   amm      the running estimates (the paper's AMM),
//   mm       the true min/max of the current batch (a true bound),
//   extreme  the running extremes.
// eps guards max = min (the reference code divides by zero there).
//
// Gradients: a channel's min (max) gradient is shared evenly by every
// element that attains it, as torch.amin does (ties are common: a constant
// image background gives many equal minima).
//
// Synchronised across ranks: when set_amm_sync() has installed all-reduces,
// the batch min/max (training, and `mm` inference) are those of the union of
// all ranks' batches, with one fused all-reduce (max over [-min, max]) per
// layer in forward and one (sum) in backward that carries the sample-count-
// weighted gradients and each rank's number of elements at the extremes, so
// the even share is over all ranks' tied elements. Together with the
// gradient reducer's n_r/N weighting, R ranks x B compute what one process
// computes on the combined batch, and every rank keeps identical buffers.
// A rank without samples this step must still run forward (on an empty
// batch) so that the collectives match. nn does not know about ranks: the
// trainer installs the all-reduces.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <memory>
#include <string>

#include "nn/activation.h"

namespace sisyphus::nn {

enum class AmmMode { kAmm, kMm, kExtreme };
AmmMode parse_amm_mode(const std::string& name);  // Error(kConfig) for unknown names
std::string amm_mode_name(AmmMode mode);

struct AmmSync {
  std::function<void(torch::Tensor&)> max;  // in place, over all ranks
  std::function<void(torch::Tensor&)> sum;
};
void set_amm_sync(AmmSync sync);  // empty functions: no synchronisation
bool amm_sync_enabled();

class AmmImpl : public torch::nn::Module {
 public:
  explicit AmmImpl(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  torch::Tensor forward(const torch::Tensor& input);  // [N, C] or [N, C, H, W]; output fp32

  void set_mode(AmmMode mode) { mode_ = mode; }
  AmmMode mode() const { return mode_; }

  torch::Tensor running_min, running_max, extreme_min, extreme_max, num_batches_tracked;

 private:
  // [2C]: this batch's per-channel min then max (over all ranks when synced)
  torch::Tensor batch_min_max(const torch::Tensor& x);
  void update_running(const torch::Tensor& mn, const torch::Tensor& mx);
  int64_t channels_;
  double eps_, momentum_;
  AmmMode mode_ = AmmMode::kAmm;
};
TORCH_MODULE(Amm);

// AMM followed by another activation; state names "<slot>.fn.amm.<buffer>".
class AmmActivation : public Activation {
 public:
  AmmActivation(int64_t channels, std::shared_ptr<Activation> inner);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "amm+" + inner_->describe(); }
  Amm& amm() { return amm_; }

 private:
  Amm amm_;
  std::shared_ptr<Activation> inner_;
};

}  // namespace sisyphus::nn
