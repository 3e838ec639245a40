// BatchNorm for every sisyphus network, with PyTorch's parameter and buffer
// names (weight, bias, running_mean, running_var, num_batches_tracked) and
// PyTorch's semantics (momentum 0.1, eps 1e-5, unbiased running variance).
//
// Optional synchronisation (SyncBatchNorm): with a StatSync (set_sync, or
// attach_stat_sync for a whole network), training-mode statistics are those
// of the union of all ranks' batches: per-channel sums, sums of squares and
// counts are all-reduced (one call per layer), in an autograd function whose
// backward all-reduces the gradients of those sums. Each rank's share is
// weighted by its sample count, so together with the gradient reducer the
// result is exactly one process training on the combined batch. A rank
// without samples this step still runs forward (on an empty batch) so that
// the collectives match; unsynchronised, an empty batch passes through and
// leaves the statistics as they are.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <utility>

#include "nn/stat_sync.h"

namespace sisyphus::nn {

class BatchNormImpl : public torch::nn::Module {
 public:
  // affine false: no weight and bias (normalisation only, as PyTorch's affine=False).
  explicit BatchNormImpl(int64_t features, double eps = 1e-5, double momentum = 0.1,
                         bool affine = true);
  // x: [N, C] or [N, C, H, W]
  torch::Tensor forward(const torch::Tensor& x);
  // Evaluation mode as y = scale * x + shift per channel (float64 [C] each):
  // what `fold` moves into the preceding conv/linear layer.
  std::pair<torch::Tensor, torch::Tensor> inference_affine() const;
  bool affine() const { return weight.defined(); }
  void set_sync(StatSyncPtr sync) { sync_ = std::move(sync); }  // null: this rank's batch only
  bool synced() const { return sync_ != nullptr; }
  // Whether forward_relu may fuse the ReLU after this BN (nn/bn_relu.h;
  // --fused-bn-relu). Off: torch's batch_norm and relu.
  void set_fuse_relu(bool on) { fuse_relu_ = on; }
  // relu(forward(x)) in one kernel each way where fusing is on, the BN is
  // not synchronised and x suits the kernel (bn_relu_fusable); otherwise an
  // undefined tensor, and the caller runs forward and its activation.
  torch::Tensor forward_relu(const torch::Tensor& x);

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor forward_synced(const torch::Tensor& x);
  void count_batch();  // num_batches_tracked += 1 (a training forward, either path)
  double eps_, momentum_;
  StatSyncPtr sync_;
  bool fuse_relu_ = false;
};
TORCH_MODULE(BatchNorm);

}  // namespace sisyphus::nn
