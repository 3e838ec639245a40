// HerPN (AESPA, Park et al. 2022; docs/beyond.md): a degree-2 activation in
// the Hermite basis with one BatchNorm per basis term,
//
//   y = weight * (f0 + f1 BN1(x) + f2 BN2(h2(x))) + bias,    h2(x) = (x^2 - 1) / sqrt(2)
//
// where f0 = 1/sqrt(2 pi), f1 = 1/2, f2 = 1/(2 sqrt(pi)) are ReLU's
// coefficients in the normalised Hermite basis (fixed), BN1 and BN2 normalise
// only (no affine; their statistics are synchronised across ranks like every
// BN) and weight, bias [C] are the learnable affine (starting at 1 and 0).
// The constant basis term has no BN (its variance is zero). In evaluation
// mode the running statistics make it a x^2 + b x + c per channel, which is
// what `fold` writes. The network's own BN in front of the slot stays.
#pragma once

#include <string>

#include "nn/activation.h"
#include "nn/batchnorm.h"

namespace sisyphus::nn {

class HerPN : public Activation {
 public:
  explicit HerPN(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "herpn"; }
  torch::Tensor inference_polynomial(int64_t channels) override;

  static constexpr double kF0 = 0.3989422804014327;  // 1 / sqrt(2 pi)
  static constexpr double kF1 = 0.5;
  static constexpr double kF2 = 0.28209479177387814;  // 1 / (2 sqrt(pi))

  torch::Tensor weight, bias;  // [C]

 private:
  BatchNorm bn1_, bn2_;
};

}  // namespace sisyphus::nn
