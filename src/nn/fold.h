// `sisyphus fold` (docs/beyond.md): a trained network in its deployable
// form, which computes what the network computes in evaluation mode with no
// batch statistics, no min/max and no normalisation layer:
//   - every BN (NormPair) is folded into the conv/linear layer before it:
//     W' = scale * W per output channel, b' = scale * b + shift, with
//     (scale, shift) the BN's evaluation map;
//   - every activation slot (with its AMM in the chosen mode, HerPN's
//     basis BNs, a fixed or learnable polynomial) becomes one polynomial per
//     channel of the slot's input, `cpoly:degree=D` (its coefficient table
//     from Activation::inference_polynomial); ReLU slots stay ReLU.
// The result is a network of the same architecture built with
// NetShape::folded (identities where the BNs were, biases on every layer),
// so the checkpoint names stay those of the source where a tensor survives.
#pragma once

#include <torch/types.h>

#include "nn/network.h"
#include "nn/sequential_net.h"

namespace sisyphus::nn {

// `net`: the trained network (its AMM layers set to the mode to fold, see
// set_amm_mode); `shape` and `imagenet_stem` as it was built; `probe` a batch
// of one input (gives each slot's channels). Computes in float64 and stores
// float32 on the CPU. Error(kConfig) when an AMM is in mode mm, and
// Error(kModel) when the slots mix ReLU and polynomials.
Network fold_network(NetworkImpl& net, NetShape shape, bool imagenet_stem,
                     const torch::Tensor& probe);

}  // namespace sisyphus::nn
