#include "nn/polynomial.h"

#include <torch/torch.h>

#include <charconv>

#include "core/error.h"
#include "nn/poly_math.h"

namespace sisyphus::nn {

// Squaring in bf16 escapes sooner: polynomial activations always compute in
// fp32, also under bf16 autocast (the next conv casts back).
torch::Tensor Quad::forward(const torch::Tensor& input) {
  const torch::Tensor x = as_fp32(input);
  return x * x;
}

torch::Tensor Quad::inference_polynomial(int64_t channels) {
  return repeat_coefficients({0.0, 0.0, 1.0}, channels);
}

Polynomial::Polynomial(std::vector<double> coeffs, std::string spec)
    : coeffs_(std::move(coeffs)), spec_(std::move(spec)) {
  SISYPHUS_CHECK(!coeffs_.empty(), ErrorKind::kConfig,
                 "a polynomial needs at least one coefficient");
  if (spec_.empty()) {
    spec_ = "poly:coeffs=";
    for (size_t d = 0; d < coeffs_.size(); ++d) {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), coeffs_[d]);  // shortest exact form
      spec_ += (d ? "," : "") + std::string(buf, end);
    }
  }
}

torch::Tensor Polynomial::forward(const torch::Tensor& input) {
  const torch::Tensor x = as_fp32(input);
  const size_t n = coeffs_.size();
  if (n == 1) return torch::full_like(x, coeffs_[0]);
  torch::Tensor y = x * coeffs_[n - 1] + coeffs_[n - 2];
  for (size_t d = n - 2; d-- > 0;) y = y * x + coeffs_[d];
  return y;
}

}  // namespace sisyphus::nn

namespace sisyphus::nn {

torch::Tensor Polynomial::inference_polynomial(int64_t channels) {
  return repeat_coefficients(coeffs_, channels);
}

}  // namespace sisyphus::nn
