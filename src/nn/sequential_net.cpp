#include "nn/sequential_net.h"

#include <torch/torch.h>

#include "nn/batchnorm.h"

namespace sisyphus::nn {

namespace tnn = torch::nn;

torch::Tensor SequentialNetImpl::forward(torch::Tensor x) {
  for (auto& s : sections_) x = s->forward(x);
  return x;
}

void SequentialNetImpl::section(const std::string& name) {
  sections_.push_back(register_module(name, tnn::Sequential()));
  section_names_.push_back(name);
}

std::string SequentialNetImpl::next_name() const {
  return section_names_.back() + "." + std::to_string(sections_.back()->size());
}

void SequentialNetImpl::conv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                             int64_t padding, bool bias, int64_t groups) {
  last_layer_ = next_name();
  pending_owners_.push_back(last_layer_);
  sections_.back()->push_back(tnn::Conv2d(tnn::Conv2dOptions(in, out, kernel)
                                              .stride(stride)
                                              .padding(padding)
                                              .bias(bias || folded_)
                                              .groups(groups)));
}

void SequentialNetImpl::norm(int64_t channels) {
  if (!batchnorm_) return;
  if (folded_) {  // folded into last_layer_: an identity keeps the indices
    sections_.back()->push_back(tnn::Identity());
    return;
  }
  const std::string name = next_name();
  add_norm_pair(last_layer_, name);
  pending_owners_.push_back(name);
  sections_.back()->push_back(BatchNorm(channels));
}

void SequentialNetImpl::batchnorm2d(int64_t channels) { norm(channels); }

void SequentialNetImpl::batchnorm1d(int64_t features) { norm(features); }

void SequentialNetImpl::linear(int64_t in, int64_t out) {
  last_layer_ = next_name();
  pending_owners_.push_back(last_layer_);
  sections_.back()->push_back(tnn::Linear(in, out));
}

void SequentialNetImpl::act() {
  std::string name = next_name();
  ActivationSlot slot;
  sections_.back()->push_back(slot);
  add_point(name, pending_owners_, slot);
  pending_owners_.clear();
}

void SequentialNetImpl::avgpool(int64_t kernel) {
  sections_.back()->push_back(tnn::AvgPool2d(tnn::AvgPool2dOptions(kernel).stride(kernel)));
}

void SequentialNetImpl::adaptive_avgpool(int64_t out_size) {
  sections_.back()->push_back(tnn::AdaptiveAvgPool2d(out_size));
}

void SequentialNetImpl::flatten() { sections_.back()->push_back(tnn::Flatten()); }

void SequentialNetImpl::dropout(double p) { sections_.back()->push_back(tnn::Dropout(p)); }

void SequentialNetImpl::logits(int64_t in, int64_t classes) {
  std::string name = next_name();
  pending_owners_.push_back(name);
  sections_.back()->push_back(tnn::Linear(in, classes));
  add_point(name, pending_owners_, ActivationSlot(nullptr));
  pending_owners_.clear();
}

// --- the networks -------------------------------------------------------------

std::shared_ptr<SequentialNetImpl> make_mlp(const NetShape& s) {
  auto net = std::make_shared<SequentialNetImpl>("mlp", s);
  net->section("classifier");
  net->flatten();
  net->linear(s.in_channels * s.image_size * s.image_size, 256);
  net->batchnorm1d(256);
  net->act();
  net->logits(256, s.num_classes);
  return net;
}

std::shared_ptr<SequentialNetImpl> make_lenet(const NetShape& s) {
  auto net = std::make_shared<SequentialNetImpl>("lenet", s);
  net->section("features");
  net->conv(s.in_channels, 6, /*kernel=*/5, /*stride=*/1, /*padding=*/0);
  net->batchnorm2d(6);
  net->act();
  net->avgpool(2);
  net->conv(6, 16, /*kernel=*/5, /*stride=*/1, /*padding=*/0);
  net->batchnorm2d(16);
  net->act();
  net->avgpool(2);
  int64_t side = ((s.image_size - 4) / 2 - 4) / 2;  // 4 for 28x28, 5 for 32x32
  net->section("classifier");
  net->flatten();
  net->linear(16 * side * side, 120);
  net->batchnorm1d(120);
  net->act();
  net->linear(120, 84);
  net->batchnorm1d(84);
  net->act();
  net->logits(84, s.num_classes);
  return net;
}

std::shared_ptr<SequentialNetImpl> make_alexnet(const NetShape& s) {
  auto net = std::make_shared<SequentialNetImpl>("alexnet", s);
  net->section("features");
  net->conv(s.in_channels, 64, /*kernel=*/3, /*stride=*/2, /*padding=*/1);
  net->batchnorm2d(64);
  net->act();
  net->avgpool(2);
  net->conv(64, 192, 3, 1, 1);
  net->batchnorm2d(192);
  net->act();
  net->avgpool(2);
  net->conv(192, 384, 3, 1, 1);
  net->batchnorm2d(384);
  net->act();
  net->conv(384, 256, 3, 1, 1);
  net->batchnorm2d(256);
  net->act();
  net->conv(256, 256, 3, 1, 1);
  net->batchnorm2d(256);
  net->act();
  net->adaptive_avgpool(2);
  net->section("classifier");
  net->flatten();
  net->dropout(0.5);
  net->linear(256 * 2 * 2, 4096);
  net->batchnorm1d(4096);
  net->act();
  net->dropout(0.5);
  net->linear(4096, 4096);
  net->batchnorm1d(4096);
  net->act();
  net->logits(4096, s.num_classes);
  return net;
}

std::shared_ptr<SequentialNetImpl> make_vgg(const NetShape& s, int depth) {
  // Channel plan; 0 is a 2x2 average pool (the paper replaces max pooling).
  static const std::vector<int64_t> kVgg11 = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  static const std::vector<int64_t> kVgg16 = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                                              0,  512, 512, 512, 0,   512, 512, 512, 0};
  auto net = std::make_shared<SequentialNetImpl>("vgg" + std::to_string(depth), s);
  net->section("features");
  int64_t in = s.in_channels;
  for (int64_t c : depth == 11 ? kVgg11 : kVgg16) {
    if (c == 0) {
      net->avgpool(2);
      continue;
    }
    net->conv(in, c, /*kernel=*/3, /*stride=*/1, /*padding=*/1);
    net->batchnorm2d(c);
    net->act();
    in = c;
  }
  net->adaptive_avgpool(1);
  net->section("classifier");
  net->flatten();
  net->logits(512, s.num_classes);
  return net;
}

std::shared_ptr<SequentialNetImpl> make_mobilenet_v1(const NetShape& s) {
  // (output channels, stride) of each depthwise-separable block.
  static const std::vector<std::pair<int64_t, int64_t>> kBlocks = {
      {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
      {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  auto net = std::make_shared<SequentialNetImpl>("mobilenet", s);
  net->section("features");
  net->conv(s.in_channels, 32, /*kernel=*/3, /*stride=*/1, /*padding=*/1, /*bias=*/false);
  net->batchnorm2d(32);
  net->act();
  int64_t in = 32;
  for (auto [out, stride] : kBlocks) {
    net->conv(in, in, /*kernel=*/3, stride, /*padding=*/1, /*bias=*/false, /*groups=*/in);
    net->batchnorm2d(in);
    net->act();
    net->conv(in, out, /*kernel=*/1, /*stride=*/1, /*padding=*/0, /*bias=*/false);
    net->batchnorm2d(out);
    net->act();
    in = out;
  }
  net->adaptive_avgpool(1);
  net->section("classifier");
  net->flatten();
  net->logits(1024, s.num_classes);
  return net;
}

}  // namespace sisyphus::nn
