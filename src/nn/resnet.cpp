#include "nn/resnet.h"

#include <torch/torch.h>

#include <array>

#include "core/error.h"
#include "nn/batchnorm.h"

namespace sisyphus::nn {
namespace tnn = torch::nn;

namespace {

// Without bias as torchvision's, except in the folded form (the BN's shift moves there).
tnn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool folded) {
  return tnn::Conv2d(
      tnn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(folded));
}

// A BN, or in the folded form an identity at its place.
tnn::AnyModule norm(int64_t channels, bool folded) {
  return folded ? tnn::AnyModule(tnn::Identity()) : tnn::AnyModule(BatchNorm(channels));
}

// The BN (or the folded form's identity) at `bn`, then the slot: in one
// kernel each way where the BN fuses ReLU and the slot is a plain ReLU
// (nn/bn_relu.h).
torch::Tensor norm_then_act(tnn::AnyModule& bn, ActivationSlotImpl& act, const torch::Tensor& x) {
  if (auto* b = bn.ptr()->as<BatchNormImpl>(); b != nullptr && act.plain_relu())
    if (torch::Tensor y = b->forward_relu(x); y.defined()) return y;
  return act.forward(bn.forward<torch::Tensor>(x));
}

// Shared by both block kinds: a chain of (conv, bn, slot) stages whose last
// stage adds the shortcut before its activation.
class BlockImpl : public tnn::Module {
 public:
  // stages: (in, out, kernel, stride) per conv.
  BlockImpl(const std::vector<std::array<int64_t, 4>>& stages, int64_t in, int64_t out,
            int64_t stride, ResNetShortcut shortcut, bool folded)
      : in_(in), out_(out), stride_(stride) {
    for (size_t i = 0; i < stages.size(); ++i) {
      auto [ci, co, k, s] = stages[i];
      std::string n = std::to_string(i + 1);
      convs_.push_back(register_module("conv" + n, conv(ci, co, k, s, folded)));
      bns_.push_back(norm(co, folded));
      register_module("bn" + n, bns_.back().ptr());
      acts_.push_back(register_module("act" + n, ActivationSlot()));
    }
    option_a_ = shortcut == ResNetShortcut::kOptionA && (stride != 1 || in != out);
    if ((stride != 1 || in != out) && !option_a_) {
      downsample_ = register_module("downsample", tnn::Sequential());
      downsample_->push_back(conv(in, out, /*kernel=*/1, stride, folded));
      downsample_->push_back(norm(out, folded));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = option_a_                ? option_a(x)
                             : downsample_.is_empty() ? x
                                                      : downsample_->forward(x);
    torch::Tensor out = x;
    for (size_t i = 0; i + 1 < convs_.size(); ++i)
      out = norm_then_act(bns_[i], *acts_[i], convs_[i]->forward(out));
    const size_t last = convs_.size() - 1;  // the shortcut joins before its activation
    out = bns_[last].forward<torch::Tensor>(convs_[last]->forward(out)) + identity;
    return acts_[last]->forward(out);
  }

  const std::vector<ActivationSlot>& acts() const { return acts_; }
  bool has_downsample() const { return !downsample_.is_empty(); }

 private:
  // x [N, in, H, W] -> [N, out, H/stride, W/stride]: every stride-th pixel,
  // (out - in) / 2 zero channels before and after (the reference's LambdaLayer).
  torch::Tensor option_a(const torch::Tensor& x) const {
    torch::Tensor sub = x.slice(2, 0, c10::nullopt, stride_).slice(3, 0, c10::nullopt, stride_);
    const int64_t before = (out_ - in_) / 2, after = out_ - in_ - before;
    return torch::constant_pad_nd(sub, {0, 0, 0, 0, before, after});
  }
  int64_t in_, out_, stride_;
  bool option_a_ = false;
  std::vector<tnn::Conv2d> convs_;
  std::vector<tnn::AnyModule> bns_;  // BN, or an identity when folded
  std::vector<ActivationSlot> acts_;
  tnn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

ResNetImpl::ResNetImpl(std::string arch, const NetShape& s, bool bottleneck,
                       std::vector<int> blocks, std::vector<int64_t> widths, ResNetStem stem,
                       ResNetShortcut shortcut)
    : NetworkImpl(std::move(arch)) {
  const int64_t stem_width = widths[0];
  if (stem == ResNetStem::kCifar) {
    conv1_ = register_module("conv1",
                             conv(s.in_channels, stem_width, /*kernel=*/3, /*stride=*/1, s.folded));
  } else {
    conv1_ = register_module(
        "conv1",
        tnn::Conv2d(
            tnn::Conv2dOptions(s.in_channels, stem_width, 7).stride(2).padding(3).bias(s.folded)));
  }
  bn1_ = norm(stem_width, s.folded);
  register_module("bn1", bn1_.ptr());
  if (!s.folded) add_norm_pair("conv1", "bn1");
  act_ = register_module("act", ActivationSlot());
  add_point("act", {"conv1", "bn1"}, act_);
  if (stem == ResNetStem::kImageNet) {
    pool_ = register_module(
        "pool", tnn::Sequential(tnn::AvgPool2d(tnn::AvgPool2dOptions(3).stride(2).padding(1))));
  }

  const int64_t expansion = bottleneck ? 4 : 1;
  int64_t in = stem_width;
  for (size_t li = 0; li < blocks.size(); ++li) {
    std::string lname = "layer" + std::to_string(li + 1);
    auto layer = register_module(lname, tnn::Sequential());
    for (int b = 0; b < blocks[li]; ++b) {
      int64_t w = widths[li];
      int64_t stride = (b == 0 && li > 0) ? 2 : 1;
      int64_t out = w * expansion;
      std::vector<std::array<int64_t, 4>> stages;
      if (bottleneck) {
        stages = {{in, w, 1, 1}, {w, w, 3, stride}, {w, out, 1, 1}};
      } else {
        stages = {{in, w, 3, stride}, {w, w, 3, 1}};
      }
      Block block(stages, in, out, stride, shortcut, s.folded);
      layer->push_back(block);
      std::string bname = lname + "." + std::to_string(b);
      for (size_t i = 0; i < stages.size(); ++i) {
        std::string n = std::to_string(i + 1);
        std::vector<std::string> owners = {bname + ".conv" + n, bname + ".bn" + n};
        if (i + 1 == stages.size() && block->has_downsample())
          owners.push_back(bname + ".downsample");
        add_point(bname + ".act" + n, owners, block->acts()[i]);
        if (!s.folded) add_norm_pair(bname + ".conv" + n, bname + ".bn" + n);
      }
      if (block->has_downsample() && !s.folded)
        add_norm_pair(bname + ".downsample.0", bname + ".downsample.1");
      in = out;
    }
    layers_.push_back(layer);
  }
  fc_ = register_module("fc", tnn::Linear(in, s.num_classes));
  add_point("fc", {"fc"}, ActivationSlot(nullptr));
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = norm_then_act(bn1_, *act_, conv1_->forward(x));
  if (!pool_.is_empty()) x = pool_->forward(x);
  for (auto& layer : layers_) x = layer->forward(x);
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
  return fc_->forward(x);
}

std::shared_ptr<ResNetImpl> make_resnet(const std::string& arch, const NetShape& s,
                                        ResNetStem stem) {
  if (arch == "resnet18")
    return std::make_shared<ResNetImpl>(arch, s, false, std::vector<int>{2, 2, 2, 2},
                                        std::vector<int64_t>{64, 128, 256, 512}, stem);
  if (arch == "resnet20")
    return std::make_shared<ResNetImpl>(arch, s, false, std::vector<int>{3, 3, 3},
                                        std::vector<int64_t>{16, 32, 64}, stem);
  if (arch == "resnet32")  // the reference's ResNet-32: option A shortcuts, no projection
    return std::make_shared<ResNetImpl>(arch, s, false, std::vector<int>{5, 5, 5},
                                        std::vector<int64_t>{16, 32, 64}, stem,
                                        ResNetShortcut::kOptionA);
  if (arch == "resnet50")
    return std::make_shared<ResNetImpl>(arch, s, true, std::vector<int>{3, 4, 6, 3},
                                        std::vector<int64_t>{64, 128, 256, 512}, stem);
  SISYPHUS_FAIL(ErrorKind::kConfig, "unknown ResNet '" + arch + "'");
}

}  // namespace sisyphus::nn
