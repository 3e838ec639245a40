// Polynomial activations (docs/quail.md): Quad, x^2, the paper's choice, and a
// polynomial with given coefficients (the drop-in fits of ReLU and its Taylor
// expansion x/2, see relu_fit.h). Nothing here is learnable (nn/channel_poly.h
// and nn/herpn.h have the learnable ones).
#pragma once

#include <string>
#include <vector>

#include "nn/activation.h"

namespace sisyphus::nn {

class Quad : public Activation {
 public:
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "quad"; }
  torch::Tensor inference_polynomial(int64_t channels) override;
};

// sum_d coeffs[d] x^d, evaluated by Horner's rule.
class Polynomial : public Activation {
 public:
  // `spec` is how describe() names it ("taylor"); empty: the coefficients,
  // "poly:coeffs=c0,c1,..." written so that they read back exactly.
  explicit Polynomial(std::vector<double> coeffs, std::string spec = "");
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return spec_; }
  torch::Tensor inference_polynomial(int64_t channels) override;
  const std::vector<double>& coeffs() const { return coeffs_; }

 private:
  std::vector<double> coeffs_;
  std::string spec_;
};

}  // namespace sisyphus::nn
