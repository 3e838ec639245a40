// The GPU path as far as a CPU can show it (engine/device.h, nn/amm.h), and a
// GPU step against a CPU step where a GPU is present (launch/gpu_check.sh
// runs it there; skipped here).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/local_communicator.h"
#include "dist/reducer.h"
#include "engine/device.h"
#include "engine/sgd.h"
#include "engine/step.h"
#include "nn/amm.h"
#include "nn/polynomial.h"
#include "nn/registry.h"
#include "support/fixtures.h"
#include "support/gpu.h"

using namespace sisyphus;

namespace {
train::Placement cpu_bf16() {
  train::Placement p;
  p.precision = train::Precision::kBf16;
  return p;
}
}  // namespace

TEST(Autocast, Bf16ConvButFp32PolynomialsAndAmm) {
  torch::manual_seed(0);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  nn::Amm amm(4);
  nn::Quad quad;
  nn::Polynomial poly({0.1, 0.5, 0.25});
  torch::Tensor x = torch::randn({2, 3, 8, 8});
  {
    train::AutocastScope scope(cpu_bf16());
    torch::Tensor h = conv(x);
    EXPECT_EQ(h.scalar_type(), torch::kBFloat16);  // autocast is on
    EXPECT_EQ(amm(h).scalar_type(), torch::kFloat32);
    EXPECT_EQ(quad.forward(h).scalar_type(), torch::kFloat32);
    EXPECT_EQ(poly.forward(h).scalar_type(), torch::kFloat32);
    // fp32 squaring of the bf16 value, not a bf16 square
    torch::Tensor expect = h.to(torch::kFloat32) * h.to(torch::kFloat32);
    EXPECT_TRUE(quad.forward(h).equal(expect));
  }
  EXPECT_EQ(conv(x).scalar_type(), torch::kFloat32);  // the scope restored fp32
  {
    train::Placement fp32;
    train::AutocastScope scope(fp32);  // fp32: nothing changes
    EXPECT_EQ(conv(x).scalar_type(), torch::kFloat32);
  }
}

TEST(Autocast, Bf16TrainingStepOnCpu) {
  torch::manual_seed(0);
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  train::Sgd sgd(params, train::OptimConfig{});
  data::Batch b{torch::randn({16, 1, 28, 28}), torch::randint(0, 10, {16}, torch::kInt64)};
  dist::GradientReducer one_rank(std::make_shared<dist::LocalCommunicator>(), params);
  train::StepResult r = train::train_step(*net, sgd, b, cpu_bf16(), 0.1,
                                          train::Objective::cross_entropy(), one_rank, b.size());
  EXPECT_TRUE(std::isfinite(r.loss));
  for (auto& [name, p] : params) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32) << name;  // master weights stay fp32
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32) << name;
  }
}

// A bf16 step against the fp32 step from the same weights and batch (LeNet,
// 64 images, momentum and weight decay). bf16 keeps 8 bits of mantissa, and
// one step's gradient from a fresh network is mostly noise-sized, so the
// updates differ by about 10% per tensor. Measured here (AVX2, torch's
// reference bf16 path): loss 1.6e-4 relative, whole update 0.10, worst tensor
// 0.17. Bounds: loss 1e-2, whole update 0.25, each tensor 0.35; tensors whose
// update is below 1e-3 of the largest are left out (the biases in front of a
// BN have a gradient of zero in exact arithmetic: their update is rounding).
TEST(Autocast, Bf16StepAgreesWithTheFp32Step) {
  auto run = [](const train::Placement& place) {
    torch::manual_seed(5);
    nn::Network net = nn::make_network("lenet", {1, 28, 10});
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
    std::vector<torch::Tensor> before;
    for (auto& [name, p] : params) before.push_back(p.detach().clone());
    train::Sgd sgd(params, train::OptimConfig{});
    torch::manual_seed(6);
    data::Batch b{torch::randn({64, 1, 28, 28}), torch::randint(0, 10, {64}, torch::kInt64)};
    dist::GradientReducer one_rank(std::make_shared<dist::LocalCommunicator>(), params);
    train::StepResult r = train::train_step(*net, sgd, b, place, 0.1,
                                            train::Objective::cross_entropy(), one_rank, b.size());
    std::vector<torch::Tensor> update;
    for (size_t i = 0; i < params.size(); ++i)
      update.push_back(params[i].second.detach() - before[i]);
    return std::make_pair(r.loss, update);
  };
  auto [loss32, up32] = run(train::Placement{});
  auto [loss16, up16] = run(cpu_bf16());
  const double loss_rel = std::abs(loss16 - loss32) / std::abs(loss32);
  double worst = 0, largest = 0, diff2 = 0, norm2 = 0;
  for (const auto& u : up32) largest = std::max(largest, u.norm().item<double>());
  for (size_t i = 0; i < up32.size(); ++i) {
    const double norm = up32[i].norm().item<double>();
    const double diff = (up16[i] - up32[i]).norm().item<double>();
    diff2 += diff * diff;
    norm2 += norm * norm;
    if (norm >= 1e-3 * largest) worst = std::max(worst, diff / norm);
  }
  const double whole = std::sqrt(diff2 / norm2);
  std::printf(
      "[bf16 step] loss fp32 %.6f bf16 %.6f (relative %.2g), update relative: whole %.3g, "
      "worst tensor %.3g\n",
      loss32, loss16, loss_rel, whole, worst);
  EXPECT_LT(loss_rel, 1e-2);
  EXPECT_LT(whole, 0.25);
  EXPECT_LT(worst, 0.35);
  // and not equal: the bf16 path did run in bf16
  EXPECT_GT(worst, 0);
}

TEST(Amm, RunningStatisticsStayOnDeviceAndSkipEmptyBatches) {
  nn::Amm amm(2);
  amm->train();
  torch::Tensor a = torch::tensor({{1.0f, -2.0f}, {3.0f, 4.0f}});
  amm(a);  // the first batch sets every estimate
  EXPECT_TRUE(amm->running_min.equal(torch::tensor({1.0f, -2.0f})));
  EXPECT_TRUE(amm->extreme_max.equal(torch::tensor({3.0f, 4.0f})));
  EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), 1);
  // a batch without samples (on every rank) changes nothing
  torch::Tensor out = amm(torch::zeros({0, 2}));
  EXPECT_EQ(out.size(0), 0);
  EXPECT_TRUE(amm->running_min.equal(torch::tensor({1.0f, -2.0f})));
  EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), 1);
  amm(torch::tensor({{0.0f, 0.0f}, {5.0f, 2.0f}}));
  EXPECT_TRUE(
      amm->running_min.allclose(torch::tensor({0.9f * 1 + 0.1f * 0, 0.9f * -2 + 0.1f * 0})));
  EXPECT_TRUE(amm->running_max.allclose(torch::tensor({0.9f * 3 + 0.1f * 5, 0.9f * 4 + 0.1f * 2})));
  EXPECT_TRUE(amm->extreme_min.equal(torch::tensor({0.0f, -2.0f})));
  EXPECT_TRUE(amm->extreme_max.equal(torch::tensor({5.0f, 4.0f})));
  EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), 2);
}

TEST(DeviceFeed, LoaderBatchesInOrderThenEmptyOnes) {
  const data::ImageSet set = fixtures::memory_set(
      10, 1, 28, 10, [](int64_t i, int64_t k) { return static_cast<uint8_t>((i * 784 + k) * 7); },
      [](int64_t i) { return i % 10; });
  const data::DatasetSpec& spec = data::dataset_spec("fashion-mnist");
  data::LoaderOptions opts;
  opts.batch_size = 4;
  data::BatchLoader direct(set, spec, data::epoch_order(set.n, 0, 0, false), opts);
  data::BatchLoader fed(set, spec, data::epoch_order(set.n, 0, 0, false), opts);
  train::Placement place;
  place.channels_last = true;
  train::DeviceFeed feed(fed, spec, place);
  for (int k = 0; k < 3; ++k) {
    data::Batch want;
    ASSERT_TRUE(direct.next(&want));
    data::Batch got = feed.next();
    EXPECT_TRUE(got.images.equal(want.images)) << "batch " << k;
    EXPECT_TRUE(got.labels.equal(want.labels)) << "batch " << k;
    EXPECT_TRUE(got.images.is_contiguous(torch::MemoryFormat::ChannelsLast));
  }
  for (int k = 0; k < 2; ++k) {  // the shard ran out: empty batches of the right shape
    data::Batch empty = feed.next();
    EXPECT_EQ(empty.images.sizes(), (std::vector<int64_t>{0, 1, 28, 28}));
    EXPECT_EQ(empty.size(), 0);
  }
}

TEST(Placement, ChannelsLastWeights) {
  nn::Network net = nn::make_network("resnet20", {3, 32, 10});
  train::Placement place;
  place.channels_last = true;
  train::place_module(*net, place);
  int conv_weights = 0;
  for (auto& p : net->parameters())
    if (p.dim() == 4) {
      EXPECT_TRUE(p.is_contiguous(torch::MemoryFormat::ChannelsLast));
      ++conv_weights;
    }
  EXPECT_GT(conv_weights, 10);
  EXPECT_EQ(train::parse_precision("bf16"), train::Precision::kBf16);
  EXPECT_THROW(train::parse_precision("fp16"), Error);
}

// One SGD step of ResNet-20 (BN, fp32, TF32 off) on the GPU against the same
// step on the CPU: parameters and BN buffers within float tolerance.
TEST(Gpu, StepEqualsCpuStep) {
  REQUIRE_GPU();
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setFloat32MatmulPrecision("highest");
  auto run = [](torch::Device device) {
    torch::manual_seed(3);
    nn::Network net = nn::make_network("resnet20", {3, 32, 10});
    train::Placement place;
    place.device = device;
    train::place_module(*net, place);
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
    train::Sgd sgd(params, train::OptimConfig{});
    torch::manual_seed(4);
    data::Batch b{torch::randn({32, 3, 32, 32}).to(device),
                  torch::randint(0, 10, {32}, torch::kInt64).to(device)};
    dist::GradientReducer one_rank(std::make_shared<dist::LocalCommunicator>(), params);
    train::StepResult r = train::train_step(*net, sgd, b, place, 0.1,
                                            train::Objective::cross_entropy(), one_rank, b.size());
    std::vector<torch::Tensor> state;
    for (auto& p : net->parameters()) state.push_back(p.detach().cpu());
    for (auto& buf : net->buffers()) state.push_back(buf.detach().cpu());
    return std::make_pair(r.loss, state);
  };
  auto [loss_cpu, cpu] = run(torch::kCPU);
  auto [loss_gpu, gpu] = run(torch::Device(torch::kCUDA, 0));
  EXPECT_NEAR(loss_cpu, loss_gpu, 1e-5 * std::max(1.0, std::abs(loss_cpu)));
  ASSERT_EQ(cpu.size(), gpu.size());
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    if (!cpu[i].is_floating_point()) {
      EXPECT_TRUE(cpu[i].equal(gpu[i]));
      continue;
    }
    worst = std::max(worst, (cpu[i] - gpu[i]).abs().max().item<double>());
  }
  std::printf("[gpu step] loss cpu %.8f gpu %.8f, max |param/buffer difference| %.3g\n", loss_cpu,
              loss_gpu, worst);
  EXPECT_LT(worst, 1e-4);
}
