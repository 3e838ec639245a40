// AMM, approximate min-max normalisation (docs/quail.md), placed before every
// polynomial activation: conv/linear -> BN -> AMM -> Quad.
//
//   y = 2 (x - min) / max(max - min, eps) - 1     per channel, in [-1, 1]
//
// min/max are per channel: over N, H, W for [N, C, H, W] inputs, over N for
// [N, C]. In training mode they are the batch's, with gradients through both,
// and the running estimates follow running = 0.9 running + 0.1 batch (the
// first batch sets them); the running extremes keep the smallest min and
// largest max seen; the reference code's "biggest" statistics (its mode 0)
// keep the smallest batch min and the largest batch range (max - min), both
// starting at 1. In evaluation mode the statistics come from the mode:
//   amm      the running estimates (the paper's AMM),
//   mm       the true min/max of the current batch (a true bound),
//   biggest  the reference's mode 0: y = 2 (x - biggest_min) / biggest_range - 1,
//   extreme  ours: the running extremes (smallest min, largest max seen).
// eps guards max = min (the reference code divides by zero there).
// Checkpoints written before the biggest statistics existed load with NaN
// there (io::load_module_state's optional names); `biggest` then refuses.
//
// Gradients: a channel's min (max) gradient is shared evenly by every
// element that attains it, as torch.amin does (ties are common: a constant
// image background gives many equal minima).
//
// Synchronised across ranks: with a StatSync (set_sync / attach_stat_sync),
// the batch min/max (training, and `mm` inference) are those of the union of
// all ranks' batches, with one fused all-reduce (max over [-min, max]) per
// layer in forward and one (sum) in backward that carries the sample-count-
// weighted gradients and each rank's number of elements at the extremes, so
// the even share is over all ranks' tied elements. Together with the
// gradient reducer's n_r/N weighting, R ranks x B compute what one process
// computes on the combined batch, and every rank keeps identical buffers.
// A rank without samples this step must still run forward (on an empty
// batch) so that the collectives match. nn does not know about ranks: the
// trainer attaches the all-reduces.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nn/activation.h"
#include "nn/stat_sync.h"

namespace sisyphus::nn {

enum class AmmMode { kAmm, kMm, kBiggest, kExtreme };
AmmMode parse_amm_mode(const std::string& name);  // Error(kConfig) for unknown names
std::string amm_mode_name(AmmMode mode);
std::vector<std::string> amm_mode_names();  // amm, mm, biggest, extreme
// Buffers added after the first AMM checkpoints: they may be missing from a
// checkpoint (loaded as NaN; the mode that needs them refuses).
const std::vector<std::string>& amm_later_buffers();  // ".amm.biggest_min", ".amm.biggest_range"

class AmmImpl : public torch::nn::Module {
 public:
  explicit AmmImpl(int64_t channels, double eps = 1e-5, double momentum = 0.1);
  torch::Tensor forward(const torch::Tensor& input);  // [N, C] or [N, C, H, W]; output fp32

  void set_mode(AmmMode mode) { mode_ = mode; }
  AmmMode mode() const { return mode_; }
  void set_sync(StatSyncPtr sync) { sync_ = std::move(sync); }  // null: this rank's batch only
  bool synced() const { return sync_ != nullptr; }
  // False when the statistics `mode` needs are missing (NaN: an older checkpoint).
  bool has_statistics(AmmMode mode) const;
  // Evaluation in the current mode as y = alpha * x + beta per channel
  // (float64 [C] each); Error(kConfig) for `mm`, which uses each batch's
  // min/max and has no fixed map.
  std::pair<torch::Tensor, torch::Tensor> inference_affine() const;

  torch::Tensor running_min, running_max, extreme_min, extreme_max, biggest_min, biggest_range,
      num_batches_tracked;

 private:
  // [2C]: this batch's per-channel min then max (over all ranks when synced)
  torch::Tensor batch_min_max(const torch::Tensor& x);
  void update_running(const torch::Tensor& mn, const torch::Tensor& mx);
  int64_t channels_;
  double eps_, momentum_;
  AmmMode mode_ = AmmMode::kAmm;
  StatSyncPtr sync_;
};
TORCH_MODULE(Amm);

// AMM followed by another activation; state names "<slot>.fn.amm.<buffer>".
class AmmActivation : public Activation {
 public:
  AmmActivation(int64_t channels, std::shared_ptr<Activation> inner);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "amm+" + inner_->describe(); }
  torch::Tensor inference_polynomial(int64_t channels) override;
  Amm& amm() { return amm_; }

 private:
  Amm amm_;
  std::shared_ptr<Activation> inner_;
};

}  // namespace sisyphus::nn
