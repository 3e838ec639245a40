// `sisyphus cost` (docs/beyond.md, "What a network costs under HE"): the
// multiplicative depth (CKKS levels) and the ciphertext-ciphertext and
// plaintext-ciphertext multiplications of a network's inference, per layer
// and in total, beside the same network with every activation slot a
// high-degree composite approximation of ReLU. The counting rules:
//
//   - counts are per scalar operation for one input (no packing: rotations,
//     key switching and bootstrapping are out of scope);
//   - conv / linear (plaintext weights): one pt-ct multiplication per
//     multiply-accumulate, 1 level; the bias addition is free;
//   - BN (not folded): one pt-ct multiplication per element, 1 level; a
//     folded network has none (nn/fold.h);
//   - average pooling: additions, its 1/k^2 folded into the next linear
//     layer: free; residual additions and option-A shortcuts: free;
//   - a polynomial activation, counted as its evaluation-mode polynomial per
//     channel (AMM and HerPN's BNs merged into the coefficients, as `fold`
//     writes them), sum_k c_k x^k of degree d: the powers x^2..x^d by
//     products of lower powers, d - 1 ct-ct multiplications; one pt-ct
//     multiplication per coefficient c_k (k >= 1) that is neither 0 nor 1;
//     depth max over the non-zero c_k of ceil(log2 k) + (c_k != 1);
//     so x^2 costs 1 level, a x^2 + b x + c 2 levels;
//   - ReLU: x (1 + sign(x)) / 2 with sign(x) the composition of odd
//     polynomials of the given degrees (default 15, 15, 27), each counted by
//     the rule above with every odd coefficient non-trivial, plus one ct-ct
//     multiplication by x (the 1/2 folded into the next layer): 17 levels
//     and 55 ct-ct multiplications per element by default;
//   - depth is the longest path: a point's depth is its main path's (a
//     residual block's shortcut, at most a conv and a BN from the block's
//     input, is never the longer in these networks), the network's is the
//     sum over its points.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "nn/network.h"

namespace sisyphus::nn {

struct OpCount {
  int64_t depth = 0;  // levels this layer consumes (on the main path)
  int64_t ct_ct = 0;  // ciphertext-ciphertext multiplications
  int64_t pt_ct = 0;  // plaintext-ciphertext multiplications
};

struct LayerCost {
  std::string point;  // the imitation point the layer belongs to
  std::string name;   // module path ("layer1.0.conv1") or the slot's ("layer1.0.act1")
  std::string kind;   // conv, linear, bn, activation, relu
  int64_t elements = 0;
  OpCount cost;
  bool shortcut = false;  // on a residual shortcut (not on the main path)
};

struct CostReport {
  std::vector<LayerCost> layers;
  OpCount total;           // the network as it is
  OpCount with_relu;       // every slot a ReLU composite, the rest the same
  std::string activation;  // the slots' spec
};

// One odd composite-approximation degree list for ReLU's sign, e.g. {15, 15, 27}.
OpCount relu_composite_cost(const std::vector<int>& sign_degrees);
// A polynomial table [C, K] (nn/poly_math.h) over `spatial` elements per channel.
OpCount polynomial_cost(const torch::Tensor& table, int64_t spatial);

// `net` in evaluation semantics (AMM set to the mode to count; mm refuses),
// `probe` a batch of one input.
CostReport he_cost(NetworkImpl& net, const torch::Tensor& probe,
                   const std::vector<int>& sign_degrees = {15, 15, 27});

}  // namespace sisyphus::nn
