#include "nn/herpn.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace sisyphus::nn {

HerPN::HerPN(int64_t channels)
    : bn1_(channels, 1e-5, 0.1, /*affine=*/false), bn2_(channels, 1e-5, 0.1, /*affine=*/false) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
  register_module("bn1", bn1_);
  register_module("bn2", bn2_);
}

torch::Tensor HerPN::forward(const torch::Tensor& input) {
  SISYPHUS_CHECK(input.dim() >= 2 && input.size(1) == weight.size(0), ErrorKind::kModel,
                 "herpn for " + std::to_string(weight.size(0)) +
                     " channels got an input of shape " + c10::str(input.sizes()));
  const torch::Tensor x = as_fp32(input);
  const torch::Tensor h2 = (x * x - 1.0) * M_SQRT1_2;
  torch::Tensor y = kF0 + kF1 * bn1_->forward(x) + kF2 * bn2_->forward(h2);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return y * weight.view(shape) + bias.view(shape);
}

torch::Tensor HerPN::inference_polynomial(int64_t channels) {
  SISYPHUS_CHECK(channels == weight.size(0), ErrorKind::kModel, "herpn: channel count mismatch");
  torch::NoGradGuard no_grad;
  auto [s1, t1] = bn1_->inference_affine();
  auto [s2, t2] = bn2_->inference_affine();
  const torch::Tensor w = weight.detach().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor b = bias.detach().to(torch::kCPU, torch::kFloat64);
  // f0 + f1 (s1 x + t1) + f2 (s2 (x^2 - 1)/sqrt2 + t2), then weight and bias
  torch::Tensor c0 = kF0 + kF1 * t1 + kF2 * (t2 - s2 * M_SQRT1_2);
  torch::Tensor c1 = kF1 * s1;
  torch::Tensor c2 = kF2 * s2 * M_SQRT1_2;
  return torch::stack({c0 * w + b, c1 * w, c2 * w}, 1);
}

}  // namespace sisyphus::nn
