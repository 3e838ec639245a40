// Per-channel polynomials as coefficient tables: [C, K] float64, row c holding
// channel c's coefficients, lowest degree first (K = degree + 1). What `fold`
// computes with: an activation's inference map, composed with the affine
// maps (BN, AMM) in front of it, is again such a table.
#pragma once

#include <torch/types.h>

namespace sisyphus::nn {

// The same K coefficients for each of `channels` channels.
torch::Tensor repeat_coefficients(const std::vector<double>& coeffs, int64_t channels);
// q_c(z) = p_c(alpha_c * z + beta_c): p [C, K], alpha and beta [C]; result [C, K].
torch::Tensor compose_affine(const torch::Tensor& p, const torch::Tensor& alpha,
                             const torch::Tensor& beta);
// y = scale_c * p_c(z) + shift_c: p [C, K], scale and shift [C].
torch::Tensor scale_shift(const torch::Tensor& p, const torch::Tensor& scale,
                          const torch::Tensor& shift);
// p [C, K] padded with zero columns to [C, k] (k >= K).
torch::Tensor pad_degree(const torch::Tensor& p, int64_t k);
// Evaluates p [C, K] on x ([N, C] or [N, C, H, W]) by Horner's rule, in x's dtype.
torch::Tensor evaluate_channel_poly(const torch::Tensor& x, const torch::Tensor& p);

}  // namespace sisyphus::nn
