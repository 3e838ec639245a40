#include "nn/batchnorm.h"

#include <torch/torch.h>

#include "nn/bn_relu.h"

namespace sisyphus::nn {
namespace {

// Sum over ranks whose backward is again a sum over ranks. Rank r's incoming
// gradient is weighted by its sample count n_r and the sum divided by n_r:
// the gradient reducer later scales rank r's parameter gradients by n_r/N,
// so the product is the gradient of the mean loss over all N samples.
class SyncSums : public torch::autograd::Function<SyncSums> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& local,
                               double local_count, StatSyncPtr sync) {
    ctx->saved_data["n"] = local_count;
    ctx->saved_data["sync"] = sync_capsule(sync);
    torch::Tensor total = local.detach().clone();
    sync->sum(total);
    return total;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const double n = ctx->saved_data["n"].toDouble();
    torch::Tensor g = (grads[0] * n).contiguous();
    sync_from_capsule(ctx->saved_data["sync"])->sum(g);
    g = n > 0 ? g / n : torch::zeros_like(g);
    return {g, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

BatchNormImpl::BatchNormImpl(int64_t features, double eps, double momentum, bool affine)
    : eps_(eps), momentum_(momentum) {
  if (affine) {
    weight = register_parameter("weight", torch::ones({features}));
    bias = register_parameter("bias", torch::zeros({features}));
  }
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kInt64));
}

torch::Tensor BatchNormImpl::forward(const torch::Tensor& x) {
  if (is_training() && !sync_ && x.size(0) == 0) return x;  // nothing to normalise, nothing learnt
  if (is_training()) count_batch();
  if (is_training() && sync_) return forward_synced(x);
  return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum_,
                           eps_, /*cudnn_enabled=*/true);
}

void BatchNormImpl::count_batch() {
  torch::NoGradGuard no_grad;
  num_batches_tracked += 1;
}

torch::Tensor BatchNormImpl::forward_relu(const torch::Tensor& x) {
  if (!fuse_relu_ || sync_ || !bn_relu_fusable(x, is_training())) return {};
  if (is_training()) count_batch();
  return bn_relu(*this, x, momentum_, eps_);
}

torch::Tensor BatchNormImpl::forward_synced(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const double n_local = static_cast<double>(x.numel() / std::max<int64_t>(c, 1));
  // [sum | sum of squares | count] per channel, in double for the E[x^2] - E[x]^2 form
  torch::Tensor xd = x.to(torch::kFloat64);
  torch::Tensor local =
      torch::cat({xd.sum(dims), (xd * xd).sum(dims), torch::full({c}, n_local, xd.options())});
  torch::Tensor total = SyncSums::apply(local, n_local, sync_);
  torch::Tensor count = total.narrow(0, 2 * c, c).detach();         // [C], all equal
  torch::Tensor mean = total.narrow(0, 0, c) / count;               // [C]
  torch::Tensor var = total.narrow(0, c, c) / count - mean * mean;  // biased, [C]
  {
    torch::NoGradGuard no_grad;
    torch::Tensor unbiased = var * count / (count - 1).clamp_min(1);
    running_mean.mul_(1 - momentum_).add_(mean.to(running_mean.dtype()), momentum_);
    running_var.mul_(1 - momentum_).add_(unbiased.to(running_var.dtype()), momentum_);
  }
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = c;
  // Normalise in fp32 at least, as cuDNN and torch's batch_norm do for bf16
  // inputs (a bf16 mean alone is off by up to 1/256 of its value); the
  // output keeps the input's dtype. fp32 and fp64 inputs compute as before.
  const auto compute = x.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  torch::Tensor invstd = (var + eps_).rsqrt().to(compute).view(shape);
  torch::Tensor y = (x.to(compute) - mean.to(compute).view(shape)) * invstd;
  if (affine()) y = y * weight.to(compute).view(shape) + bias.to(compute).view(shape);
  return y.to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> BatchNormImpl::inference_affine() const {
  torch::NoGradGuard no_grad;
  const auto f64 = [](const torch::Tensor& t) {
    return t.detach().to(torch::kCPU, torch::kFloat64);
  };
  torch::Tensor scale = (f64(running_var) + eps_).rsqrt();
  if (affine()) scale = scale * f64(weight);
  torch::Tensor shift = -f64(running_mean) * scale;
  if (affine()) shift = shift + f64(bias);
  return {scale, shift};
}

}  // namespace sisyphus::nn
