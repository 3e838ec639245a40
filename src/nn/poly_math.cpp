#include "nn/poly_math.h"

#include <torch/torch.h>

namespace sisyphus::nn {

torch::Tensor repeat_coefficients(const std::vector<double>& coeffs, int64_t channels) {
  torch::Tensor row = torch::tensor(coeffs, torch::kFloat64);
  return row.unsqueeze(0).repeat({channels, 1});
}

torch::Tensor compose_affine(const torch::Tensor& p, const torch::Tensor& alpha,
                             const torch::Tensor& beta) {
  // Horner over polynomials: q = p_{K-1}; q = q * (alpha z + beta) + p_k for k = K-2..0.
  const int64_t k = p.size(1);
  const torch::Tensor a = alpha.to(torch::kFloat64).unsqueeze(1),
                      b = beta.to(torch::kFloat64).unsqueeze(1);
  torch::Tensor q = torch::zeros_like(p, torch::kFloat64);
  q.select(1, 0).copy_(p.select(1, k - 1));
  for (int64_t d = k - 2; d >= 0; --d) {
    // q(z) * (a z + b): shift up times a, plus q times b
    torch::Tensor up = torch::zeros_like(q);
    up.narrow(1, 1, k - 1).copy_(q.narrow(1, 0, k - 1));
    q = up * a + q * b;
    q.select(1, 0).add_(p.select(1, d));
  }
  return q;
}

torch::Tensor scale_shift(const torch::Tensor& p, const torch::Tensor& scale,
                          const torch::Tensor& shift) {
  torch::Tensor q = p.to(torch::kFloat64) * scale.to(torch::kFloat64).unsqueeze(1);
  q.select(1, 0).add_(shift.to(torch::kFloat64));
  return q;
}

torch::Tensor pad_degree(const torch::Tensor& p, int64_t k) {
  if (p.size(1) >= k) return p;
  return torch::cat({p, torch::zeros({p.size(0), k - p.size(1)}, p.options())}, 1);
}

torch::Tensor evaluate_channel_poly(const torch::Tensor& x, const torch::Tensor& p) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  const int64_t k = p.size(1);
  const torch::Tensor c = p.to(x.dtype());
  auto coeff = [&](int64_t d) { return c.select(1, d).view(shape); };
  torch::Tensor y = coeff(k - 1).expand_as(x);
  for (int64_t d = k - 2; d >= 0; --d) y = y * x + coeff(d);
  return y;
}

}  // namespace sisyphus::nn
