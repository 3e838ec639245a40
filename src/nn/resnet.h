// Residual networks with torchvision's parameter names.
//
// ResNet-18/20/32 are the CIFAR-style networks of the paper's code: a 3x3
// stride-1 stem without pooling, BasicBlocks; where the shape changes, a 1x1
// conv + BN shortcut (ResNet-18, ResNet-20) or, for ResNet-32 as in the
// reference, the parameter-free "option A" shortcut: stride-2 subsampling
// with the new channels zero-padded, half before and half after. ResNet-50 uses torchvision's
// Bottleneck (stride on the 3x3 conv) with a 64x64 stem (3x3 stride 1, no pooling) for
// TinyImageNet, or the ImageNet stem (7x7 stride 2 + 3x3 stride-2 pooling, average instead of max
// as everywhere in this project).
//
// Imitation points per block: BasicBlock "act1" (conv1, bn1) and "act2"
// (conv2, bn2, downsample; after the addition); Bottleneck "act1", "act2",
// "act3" likewise. The stem's point is "act" (conv1, bn1); the logits "fc".
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "nn/batchnorm.h"
#include "nn/network.h"
#include "nn/sequential_net.h"

namespace sisyphus::nn {

enum class ResNetStem { kCifar, kImageNet };
enum class ResNetShortcut { kProjection, kOptionA };

class ResNetImpl : public NetworkImpl {
 public:
  // bottleneck: Bottleneck blocks (expansion 4) instead of BasicBlocks.
  ResNetImpl(std::string arch, const NetShape& s, bool bottleneck, std::vector<int> blocks,
             std::vector<int64_t> widths, ResNetStem stem,
             ResNetShortcut shortcut = ResNetShortcut::kProjection);
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::AnyModule bn1_;  // BN, or an identity when folded
  ActivationSlot act_{nullptr};
  torch::nn::Sequential pool_{nullptr};  // empty for the CIFAR stem
  std::vector<torch::nn::Sequential> layers_;
  torch::nn::Linear fc_{nullptr};
};

std::shared_ptr<ResNetImpl> make_resnet(const std::string& arch, const NetShape& s,
                                        ResNetStem stem = ResNetStem::kCifar);

}  // namespace sisyphus::nn
