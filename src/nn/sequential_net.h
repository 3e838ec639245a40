// Plain stacks (no skip connections): MLP, LeNet, AlexNet, VGG-11, VGG-16 and
// MobileNet-V1, as the paper's reference code builds them: BN after every
// conv/linear, average pooling, one activation slot after every BN, a final
// linear layer without activation.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include "nn/network.h"

namespace sisyphus::nn {

// Input geometry and output classes of a network.
struct NetShape {
  int64_t in_channels = 3;  // 1 for (Fashion-)MNIST
  int64_t image_size = 32;  // square inputs
  int64_t num_classes = 10;
  bool batchnorm = true;  // false: no BN layers (plain stacks only; for exactness tests)
  // The deployable form `fold` writes (nn/fold.h): an identity where each BN
  // was (names and indices stay) and a bias on every conv/linear layer.
  bool folded = false;
};

class SequentialNetImpl : public NetworkImpl {
 public:
  SequentialNetImpl(std::string arch, const NetShape& s)
      : NetworkImpl(std::move(arch)), batchnorm_(s.batchnorm), folded_(s.folded) {}
  torch::Tensor forward(torch::Tensor x) override;

  // --- building blocks, appended to the current section ---------------------
  void section(const std::string& name);  // "features" or "classifier"
  void conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
            bool bias = true, int64_t groups = 1);
  void batchnorm2d(int64_t channels);
  void batchnorm1d(int64_t features);
  void linear(int64_t in, int64_t out);
  void act();  // closes an imitation point
  void avgpool(int64_t kernel);
  void adaptive_avgpool(int64_t out_size);
  void flatten();
  void dropout(double p);
  void logits(int64_t in, int64_t classes);  // final linear; the last point

 private:
  std::string next_name() const;

  std::vector<torch::nn::Sequential> sections_;
  std::vector<std::string> section_names_;
  void norm(int64_t channels);
  std::vector<std::string> pending_owners_;
  std::string last_layer_;  // the latest conv/linear, which the next BN normalises
  bool batchnorm_, folded_;
};

std::shared_ptr<SequentialNetImpl> make_mlp(const NetShape& s);
std::shared_ptr<SequentialNetImpl> make_lenet(const NetShape& s);
std::shared_ptr<SequentialNetImpl> make_alexnet(const NetShape& s);
std::shared_ptr<SequentialNetImpl> make_vgg(const NetShape& s, int depth);  // 11 or 16
std::shared_ptr<SequentialNetImpl> make_mobilenet_v1(const NetShape& s);

}  // namespace sisyphus::nn
