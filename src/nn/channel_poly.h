// A learnable polynomial per channel (docs/beyond.md): y = sum_d coeffs[c][d] x^d,
// the parameter "coeffs" [C, degree + 1], lowest degree first. Degree 2 is
// the learnable a x^2 + b x + c of the issue. Initialised from the
// least-squares fit of ReLU on [-range, range] (every channel the same), or
// zeros without a range: the form `fold` writes (it fills the coefficients).
//
//   cpoly:degree=D,range=A     learnable, from the fit
//   cpoly:degree=D             learnable, zeros (a folded network's slots)
#pragma once

#include <optional>
#include <string>

#include "nn/activation.h"

namespace sisyphus::nn {

class ChannelPolynomial : public Activation {
 public:
  ChannelPolynomial(int64_t channels, int degree, std::optional<double> fit_range);
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override;
  torch::Tensor inference_polynomial(int64_t channels) override;

  torch::Tensor coeffs;  // [C, degree + 1], fp32

 private:
  int degree_;
  std::optional<double> fit_range_;
};

}  // namespace sisyphus::nn
