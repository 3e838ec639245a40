// The fused BatchNorm + ReLU (nn/bn_relu.h) against torch's batch_norm and
// relu: output, running statistics, num_batches_tracked and the gradients of
// input, weight and bias, in training and evaluation mode, for rows shorter
// and longer than a vector; where it must not fuse; and a ResNet's training
// step with the option on and off.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/bn_relu.h"
#include "nn/registry.h"

using namespace sisyphus;

namespace {

struct Result {
  torch::Tensor y, dx, dw, db, rm, rv, tracked;
};

// relu(bn(x)) and its gradients under upstream gradient dy, fused or by torch.
Result run(bool fused, const torch::Tensor& x0, const torch::Tensor& dy, bool training) {
  nn::BatchNorm bn(x0.size(1));
  bn->set_fuse_relu(fused);
  {
    torch::NoGradGuard g;
    bn->weight.copy_(torch::linspace(-0.5, 1.5, x0.size(1)));  // a negative scale too
    bn->bias.copy_(torch::linspace(-0.2, 0.3, x0.size(1)));
    bn->running_mean.copy_(torch::linspace(0.5, 1.0, x0.size(1)));
    bn->running_var.copy_(torch::linspace(2.0, 3.0, x0.size(1)));
  }
  bn->train(training);
  Result r;
  if (!training) {
    torch::NoGradGuard g;
    torch::Tensor y = bn->forward_relu(x0);
    EXPECT_EQ(y.defined(), fused);
    r.y = fused ? y : torch::relu(bn->forward(x0));
  } else {
    torch::Tensor x = x0.clone().set_requires_grad(true);
    torch::Tensor y = bn->forward_relu(x);
    EXPECT_EQ(y.defined(), fused);
    if (!fused) y = torch::relu(bn->forward(x));
    (y * dy).sum().backward();
    r = {y.detach(), x.grad(), bn->weight.grad(), bn->bias.grad()};
  }
  r.rm = bn->running_mean.clone();
  r.rv = bn->running_var.clone();
  r.tracked = bn->num_batches_tracked.clone();
  return r;
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, double tol, const char* what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  const double scale = 1 + b.abs().max().item<double>();
  EXPECT_LT((a - b).abs().max().item<double>(), tol * scale) << what;
}

}  // namespace

TEST(BnRelu, TrainingEqualsTorchBatchNormAndRelu) {
  torch::manual_seed(3);
  // rows of 63 values (vector body and tail) and of 9 (tail only), means far from 0
  for (auto shape : {std::vector<int64_t>{6, 5, 7, 9}, std::vector<int64_t>{16, 3, 3, 3}}) {
    const torch::Tensor x = torch::randn(shape) * 3 + 1;
    const torch::Tensor dy = torch::randn(shape);
    const Result f = run(true, x, dy, true), t = run(false, x, dy, true);
    expect_close(f.y, t.y, 1e-5, "y");
    expect_close(f.dx, t.dx, 1e-5, "dx");
    expect_close(f.dw, t.dw, 1e-5, "dweight");
    expect_close(f.db, t.db, 1e-5, "dbias");
    expect_close(f.rm, t.rm, 1e-6, "running_mean");
    expect_close(f.rv, t.rv, 1e-6, "running_var");
    EXPECT_EQ(f.tracked.item<int64_t>(), 1);
    EXPECT_EQ(t.tracked.item<int64_t>(), 1);
    // ReLU cut about half the values: the mask matters to the comparison
    const double zeros = f.y.eq(0).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(zeros, 0.2);
    EXPECT_LT(zeros, 0.8);
  }
}

TEST(BnRelu, EvaluationEqualsTorch) {
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({4, 6, 5, 17}) * 2;
  const Result f = run(true, x, {}, false), t = run(false, x, {}, false);
  expect_close(f.y, t.y, 1e-6, "y");
  EXPECT_TRUE(torch::equal(f.rm, t.rm));  // evaluation leaves the estimates alone
  EXPECT_EQ(f.tracked.item<int64_t>(), 0);
}

// What the kernel does not take falls back to torch (an undefined result).
TEST(BnRelu, FusesOnlyWhatSuitsTheKernel) {
  const torch::Tensor x = torch::randn({4, 3, 5, 5});
  EXPECT_TRUE(nn::bn_relu_fusable(x, true));
  EXPECT_FALSE(nn::bn_relu_fusable(x.contiguous(torch::MemoryFormat::ChannelsLast), true));
  EXPECT_FALSE(nn::bn_relu_fusable(x.to(torch::kFloat64), true));
  EXPECT_FALSE(nn::bn_relu_fusable(x.to(torch::kBFloat16), true));
  EXPECT_FALSE(nn::bn_relu_fusable(torch::randn({4, 3}), true));
  EXPECT_FALSE(nn::bn_relu_fusable(torch::randn({0, 3, 5, 5}), true));
  EXPECT_FALSE(nn::bn_relu_fusable(x, false));  // evaluation mode with autograd on
  {
    torch::NoGradGuard g;
    EXPECT_TRUE(nn::bn_relu_fusable(x, false));
  }
  nn::BatchNorm off(3), synced(3);
  EXPECT_FALSE(off->forward_relu(x).defined());  // fusing is off by default
  synced->set_fuse_relu(true);
  auto one_rank = std::make_shared<nn::StatSync>();
  one_rank->sum = [](torch::Tensor&) {};
  one_rank->max = [](torch::Tensor&) {};
  synced->set_sync(one_rank);
  EXPECT_FALSE(synced->forward_relu(x).defined());  // SyncBatchNorm: its own path
  nn::ActivationSlot slot;
  EXPECT_TRUE(slot->plain_relu());
  slot->set_capture(true);
  EXPECT_FALSE(slot->plain_relu());
  slot->set_capture(false);
  slot->set_blend(0.5);
  EXPECT_FALSE(slot->plain_relu());
}

// A ResNet-20 training step with the option on and off: the same loss and
// gradients up to float rounding, and the option really ran (the outputs
// are not bitwise equal).
TEST(BnRelu, ResNetStepWithAndWithoutFusion) {
  auto step = [](bool fused) {
    torch::manual_seed(7);
    nn::Network net = nn::make_network("resnet20", {1, 28, 10});
    for (auto& m : net->modules())
      if (auto* bn = m->as<nn::BatchNormImpl>()) bn->set_fuse_relu(fused);
    torch::manual_seed(8);
    const torch::Tensor x = torch::randn({8, 1, 28, 28});
    const torch::Tensor y = torch::randint(0, 10, {8});
    net->train();
    torch::Tensor loss = torch::cross_entropy_loss(net->forward(x), y);
    loss.backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : net->parameters()) grads.push_back(p.grad().clone());
    return std::make_pair(loss.detach(), grads);
  };
  const auto [lf, gf] = step(true);
  const auto [lt, gt] = step(false);
  EXPECT_NEAR(lf.item<double>(), lt.item<double>(), 1e-5);
  ASSERT_EQ(gf.size(), gt.size());
  bool all_equal = true;
  for (size_t i = 0; i < gf.size(); ++i) {
    expect_close(gf[i], gt[i], 1e-4, "gradient");
    all_equal = all_equal && torch::equal(gf[i], gt[i]);
  }
  EXPECT_FALSE(all_equal);
}
