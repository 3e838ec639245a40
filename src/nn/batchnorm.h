// BatchNorm for every sisyphus network, with PyTorch's parameter and buffer
// names (weight, bias, running_mean, running_var, num_batches_tracked) and
// PyTorch's semantics (momentum 0.1, eps 1e-5, unbiased running variance).
//
// Optional synchronisation (SyncBatchNorm): when a process-wide all-reduce is
// installed with set_batchnorm_sync(), training-mode statistics are those of
// the union of all ranks' batches: per-channel sums, sums of squares and
// counts are all-reduced (one call per layer), in an autograd function whose
// backward all-reduces the gradients of those sums. Each rank's share is
// weighted by its sample count, so together with the gradient reducer the
// result is exactly one process training on the combined batch. nn does not
// know about ranks: the trainer installs the all-reduce.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>

namespace sisyphus::nn {

// Sums a tensor over all ranks, in place; empty function: no synchronisation.
using AllReduceSum = std::function<void(torch::Tensor&)>;
void set_batchnorm_sync(AllReduceSum all_reduce_sum);
bool batchnorm_sync_enabled();

class BatchNormImpl : public torch::nn::Module {
 public:
  explicit BatchNormImpl(int64_t features, double eps = 1e-5, double momentum = 0.1);
  // x: [N, C] or [N, C, H, W]
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor forward_synced(const torch::Tensor& x);
  double eps_, momentum_;
};
TORCH_MODULE(BatchNorm);

}  // namespace sisyphus::nn
