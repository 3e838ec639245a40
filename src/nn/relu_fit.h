// Polynomial approximations of ReLU (docs/quail.md, drop-in baselines). No torch.
//
// fit_relu_least_squares(D, a) returns w_0..w_D minimising
//   E(w) = integral_{-a}^{a} (sum_d w_d x^d - ReLU(x))^2 dx
// exactly (no grid): ReLU on [-1, 1] is projected onto the Legendre
// polynomials P_0..P_D, whose coefficients have closed forms, the expansion
// is converted to monomials, and x = a t rescales it (ReLU(a t) = a ReLU(t),
// so w_d = a^(1-d) c_d). The reference code's grid with step 1/1000 agrees
// to about 1e-6.
//
// taylor_relu() is the Taylor expansion at 0 (of the smooth part), which
// collapses to x/2: {0, 0.5}.
#pragma once

#include <vector>

namespace sisyphus::nn {

std::vector<double> fit_relu_least_squares(int degree, double range);
std::vector<double> taylor_relu();

}  // namespace sisyphus::nn
