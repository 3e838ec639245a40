// Activation specs: the text that names what fills a network's slots, used
// by flags (--act), checkpoints (the "activation" attribute) and logs.
//
//   relu | quad | taylor                     ReLU, x^2, x/2
//   poly:degree=D,range=A                    least-squares fit of ReLU on [-A, A]
//   poly:coeffs=c0,c1,...                    given coefficients, low degree first
//   herpn                                    Hermite basis with a BN per term (nn/herpn.h)
//   cpoly:degree=D[,range=A]                 learnable per channel (nn/channel_poly.h)
//   amm+<any of the above>                   AMM normalisation before it
//
// A spec built into a module describes itself canonically (fits as their
// exact coefficients), so a checkpoint's spec rebuilds the same network.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/activation.h"
#include "nn/amm.h"
#include "nn/network.h"

namespace sisyphus::nn {

// Error(kConfig) with the accepted forms for anything else.
std::shared_ptr<Activation> make_activation(const std::string& spec, int64_t channels);
// Validates a spec without building it.
void check_activation_spec(const std::string& spec);

// Fills every slot of `net` with a fresh activation built from `spec`; the
// channels of each slot come from one forward pass of `probe` (a batch of
// one input, e.g. zeros [1, C, H, W]).
void set_activations(NetworkImpl& net, const std::string& spec, const torch::Tensor& probe);
// The spec of the network's slots ("relu" for a fresh network).
std::string activation_spec(const NetworkImpl& net);
// Sets the inference mode of every AMM layer in `module`.
void set_amm_mode(torch::nn::Module& module, AmmMode mode);
bool has_amm(torch::nn::Module& module);
// True when every AMM layer in `module` holds the statistics `mode` uses
// (false for `biggest` on a checkpoint older than those statistics).
bool has_amm_statistics(torch::nn::Module& module, AmmMode mode);

}  // namespace sisyphus::nn
