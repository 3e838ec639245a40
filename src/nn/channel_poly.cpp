#include "nn/channel_poly.h"

#include <torch/torch.h>

#include <charconv>

#include "core/error.h"
#include "nn/poly_math.h"
#include "nn/relu_fit.h"

namespace sisyphus::nn {

ChannelPolynomial::ChannelPolynomial(int64_t channels, int degree, std::optional<double> fit_range)
    : degree_(degree), fit_range_(fit_range) {
  SISYPHUS_CHECK(degree >= 1 && degree <= 16, ErrorKind::kConfig,
                 "cpoly: degree must be between 1 and 16, not " + std::to_string(degree));
  torch::Tensor init = torch::zeros({channels, degree + 1});
  if (fit_range)
    init = repeat_coefficients(fit_relu_least_squares(degree, *fit_range), channels)
               .to(torch::kFloat32);
  coeffs = register_parameter("coeffs", init);
}

torch::Tensor ChannelPolynomial::forward(const torch::Tensor& input) {
  SISYPHUS_CHECK(input.dim() >= 2 && input.size(1) == coeffs.size(0), ErrorKind::kModel,
                 "cpoly for " + std::to_string(coeffs.size(0)) +
                     " channels got an input of shape " + c10::str(input.sizes()));
  return evaluate_channel_poly(as_fp32(input), coeffs);
}

std::string ChannelPolynomial::describe() const {
  std::string s = "cpoly:degree=" + std::to_string(degree_);
  if (fit_range_) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), *fit_range_);
    s += ",range=" + std::string(buf, end);
  }
  return s;
}

torch::Tensor ChannelPolynomial::inference_polynomial(int64_t channels) {
  SISYPHUS_CHECK(channels == coeffs.size(0), ErrorKind::kModel, "cpoly: channel count mismatch");
  return coeffs.detach().to(torch::kCPU, torch::kFloat64).clone();
}

}  // namespace sisyphus::nn
