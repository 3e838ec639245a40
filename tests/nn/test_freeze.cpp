// Imitation points own every tensor exactly once, and QuaIL's freezing keeps
// frozen points' parameters and buffers (BN statistics, AMM estimates) as
// they are while the network trains.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "engine/sgd.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/registry.h"

using namespace sisyphus;

TEST(Points, EveryTensorBelongsToExactlyOnePoint) {
  const std::vector<std::pair<std::string, nn::NetShape>> nets = {
      {"mlp", {1, 28, 10, true}},       {"lenet", {1, 28, 10, true}},
      {"alexnet", {3, 32, 10, true}},   {"vgg11", {3, 32, 10, true}},
      {"resnet20", {3, 32, 10, true}},  {"resnet18", {3, 32, 10, true}},
      {"mobilenet", {3, 32, 10, true}}, {"resnet50", {3, 64, 200, true}}};
  for (const auto& [name, shape] : nets) {
    nn::Network net = nn::make_network(name, shape);
    nn::set_activations(*net, "amm+quad",
                        torch::zeros({1, shape.in_channels, shape.image_size, shape.image_size}));
    std::map<std::string, int> owners;
    for (size_t l = 0; l < net->points().size(); ++l)
      for (const auto& t : net->point_tensor_names(l)) owners[t] += 1;
    for (const auto& [t, tensor] : io::module_state(*net))
      EXPECT_EQ(owners[t], 1) << name << ": " << t;
    // the AMM estimates belong to their slot's point
    EXPECT_EQ(owners.count(net->points()[0].name + ".fn.amm.running_min"), 1u) << name;
  }
}

TEST(Points, FrozenPointsKeepParametersAndWithFrozenEvalBuffers) {
  torch::manual_seed(0);
  nn::Network net = nn::make_network("lenet", {1, 28, 10, true});
  nn::set_activations(*net, "amm+quad", torch::zeros({1, 1, 28, 28}));
  {  // one training batch with nothing frozen gives the AMM layers their estimates
    torch::NoGradGuard no_grad;
    net->train();
    net->forward(torch::randn({8, 1, 28, 28}));
  }
  const size_t L = net->points().size();
  std::vector<bool> trainable(L, false);
  trainable[1] = true;
  net->set_trainable_points(trainable);
  std::vector<std::string> mine = net->point_tensor_names(1);
  std::set<std::string> own(mine.begin(), mine.end());
  for (const auto& item : net->named_parameters())
    EXPECT_EQ(item.value().requires_grad(), own.count(item.key()) > 0) << item.key();

  // the reference's default: every layer trains in training mode
  net->train();
  EXPECT_TRUE(net->points()[0].slot->is_training());
  for (const auto& item : net->named_modules())
    EXPECT_TRUE(item.value()->is_training()) << item.key();
  net->set_frozen_eval(true);  // --frozen-eval: frozen points in evaluation mode, buffers kept

  std::map<std::string, torch::Tensor> before;
  for (const auto& [n, t] : io::module_state(*net)) before[n] = t.clone();
  net->train();
  EXPECT_FALSE(net->points()[0].slot->is_training());
  EXPECT_TRUE(net->points()[1].slot->is_training());
  torch::Tensor out = net->forward_points(torch::randn({8, 1, 28, 28}))[1];
  out.pow(2).mean().backward();
  for (const auto& [n, t] : io::module_state(*net)) {
    bool same = torch::equal(before[n], t);
    if (own.count(n)) {
      if (n.find("running") != std::string::npos || n.find("extreme") != std::string::npos ||
          n.find("num_batches") != std::string::npos)
        EXPECT_FALSE(same) << n << " (point 1's statistics should move)";
    } else {
      EXPECT_TRUE(same) << n << " (frozen) changed";
    }
  }
  for (const auto& item : net->named_parameters())
    EXPECT_EQ(item.value().grad().defined(), own.count(item.key()) > 0) << item.key();

  net->set_trainable_points({});
  for (const auto& p : net->parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_TRUE(net->points()[0].slot->is_training());
}

// The reference's behaviour (the default): frozen points get no gradients and
// keep their parameters, but their BN and AMM layers normalise with the
// batch's statistics and update their running estimates.
TEST(Points, ByDefaultFrozenPointsStillTrackBatchStatistics) {
  torch::manual_seed(0);
  nn::Network net = nn::make_network("lenet", {1, 28, 10, true});
  nn::set_activations(*net, "amm+quad", torch::zeros({1, 1, 28, 28}));
  std::vector<bool> trainable(net->points().size(), false);
  trainable[1] = true;
  net->set_trainable_points(trainable);
  std::map<std::string, torch::Tensor> before;
  for (const auto& [n, t] : io::module_state(*net)) before[n] = t.clone();
  net->train();
  net->forward_points(torch::randn({8, 1, 28, 28}))[1].pow(2).mean().backward();
  // and an optimizer step as a stage takes it (momentum, weight decay: a
  // decay applied to every parameter would move the frozen ones too)
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  train::OptimConfig opt;
  opt.momentum = 0.9;
  opt.weight_decay = 5e-4;
  train::Sgd sgd(params, opt);
  sgd.step(0.1);
  std::vector<std::string> mine = net->point_tensor_names(1);
  std::set<std::string> own(mine.begin(), mine.end());
  int frozen_stats_moved = 0;
  for (const auto& [n, t] : io::module_state(*net)) {
    if (own.count(n)) continue;
    const bool statistic =
        n.find("running") != std::string::npos || n.find("extreme") != std::string::npos ||
        n.find("biggest") != std::string::npos || n.find("num_batches") != std::string::npos;
    if (statistic) {
      frozen_stats_moved += !torch::equal(before[n], t);
    } else {
      EXPECT_TRUE(torch::equal(before[n], t)) << n << " (frozen parameter) changed";
    }
  }
  EXPECT_GT(frozen_stats_moved, 4);  // point 0's BN and AMM, and the later points'
  int own_moved = 0;
  for (const auto& item : net->named_parameters())
    if (own.count(item.key())) own_moved += !torch::equal(before[item.key()], item.value());
  EXPECT_GT(own_moved, 0);  // the step did update point 1's parameters
  for (const auto& item : net->named_parameters())
    EXPECT_EQ(item.value().grad().defined(), own.count(item.key()) > 0) << item.key();
}
