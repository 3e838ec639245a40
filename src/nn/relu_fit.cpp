#include "nn/relu_fit.h"

#include <cmath>
#include <string>

#include "core/error.h"

namespace sisyphus::nn {
namespace {

using Poly = std::vector<long double>;  // monomial coefficients, low degree first

// Legendre polynomials P_0..P_n in monomial form, by Bonnet's recursion
// (k+1) P_{k+1} = (2k+1) t P_k - k P_{k-1}.
std::vector<Poly> legendre(int n) {
  std::vector<Poly> p(static_cast<size_t>(n) + 1);
  p[0] = {1.0L};
  if (n >= 1) p[1] = {0.0L, 1.0L};
  for (int k = 1; k < n; ++k) {
    Poly next(static_cast<size_t>(k) + 2, 0.0L);
    for (size_t j = 0; j < p[k].size(); ++j) next[j + 1] += (2.0L * k + 1) * p[k][j];
    for (size_t j = 0; j < p[k - 1].size(); ++j)
      next[j] -= static_cast<long double>(k) * p[k - 1][j];
    for (auto& c : next) c /= static_cast<long double>(k + 1);
    p[static_cast<size_t>(k) + 1] = next;
  }
  return p;
}

}  // namespace

std::vector<double> fit_relu_least_squares(int degree, double range) {
  SISYPHUS_CHECK(degree >= 1 && degree <= 20, ErrorKind::kConfig,
                 "polynomial degree must be in [1, 20], got " + std::to_string(degree));
  SISYPHUS_CHECK(std::isfinite(range) && range > 0, ErrorKind::kConfig,
                 "polynomial fit range must be a positive number, got " + std::to_string(range));
  std::vector<Poly> p = legendre(degree);
  Poly c(static_cast<size_t>(degree) + 1, 0.0L);
  for (int k = 0; k <= degree; ++k) {
    // a_k = (2k+1)/2 * integral_{-1}^{1} ReLU(t) P_k(t) dt = (2k+1)/2 * sum_j p_kj / (j+2)
    long double integral = 0;
    for (size_t j = 0; j < p[k].size(); ++j) integral += p[k][j] / static_cast<long double>(j + 2);
    const long double a_k = (2.0L * k + 1) / 2.0L * integral;
    for (size_t j = 0; j < p[k].size(); ++j) c[j] += a_k * p[k][j];
  }
  std::vector<double> w(c.size());
  const long double a = range;
  for (size_t d = 0; d < c.size(); ++d)
    w[d] = static_cast<double>(c[d] * std::pow(a, 1.0L - static_cast<long double>(d)));
  return w;
}

std::vector<double> taylor_relu() { return {0.0, 0.5}; }

}  // namespace sisyphus::nn
