// Builds a network by name: mlp, lenet, alexnet, vgg11, vgg16, resnet18,
// resnet20, resnet32, mobilenet, resnet50.
#pragma once

#include <string>
#include <vector>

#include "nn/network.h"
#include "nn/sequential_net.h"

namespace sisyphus::nn {

std::vector<std::string> network_names();

// imagenet_stem applies to resnet50 only. Throws Error(kConfig) for an
// unknown name and Error(kModel) when the network cannot take inputs of the
// given shape (e.g. vgg16 on 28x28: five poolings leave nothing).
Network make_network(const std::string& name, const NetShape& shape, bool imagenet_stem = false);

}  // namespace sisyphus::nn
