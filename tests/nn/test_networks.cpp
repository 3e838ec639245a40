// The paper's networks: output shapes, parameter counts equal to the
// reference definitions (tests/python/reference_param_counts.py), torchvision
// names, and imitation points that own every parameter exactly once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>

#include "core/error.h"
#include "nn/registry.h"

using namespace sisyphus;

namespace {

struct Case {
  std::string net;
  nn::NetShape shape;
  int64_t params;  // from tests/python/reference_param_counts.py
  size_t points;   // activations + logits
};

const std::vector<Case>& cases() {
  static const std::vector<Case> kCases = {
      {"mlp", {1, 28, 10}, 204042, 2},
      {"lenet", {1, 28, 10}, 44878, 5},
      {"lenet", {3, 32, 10}, 62458, 5},
      {"alexnet", {3, 32, 10}, 23290954, 8},
      {"vgg11", {3, 32, 10}, 9231114, 9},
      {"vgg16", {3, 32, 10}, 14728266, 14},
      {"mobilenet", {3, 32, 10}, 3217226, 28},
      {"resnet18", {3, 32, 10}, 11173962, 18},
      {"resnet20", {3, 32, 10}, 272474, 20},
      {"resnet32", {3, 32, 10}, 464154, 32},  // option A shortcuts: no downsample parameters
      {"resnet50", {3, 64, 200}, 23910152, 50},
  };
  return kCases;
}

}  // namespace

TEST(Networks, ParameterCountsShapesAndPoints) {
  torch::NoGradGuard no_grad;
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.net + " " + std::to_string(c.shape.image_size));
    nn::Network net = nn::make_network(c.net, c.shape);
    EXPECT_EQ(net->arch(), c.net);
    EXPECT_EQ(net->parameter_count(), c.params);
    EXPECT_EQ(net->points().size(), c.points);
    net->eval();
    auto outs = net->forward_points(
        torch::randn({2, c.shape.in_channels, c.shape.image_size, c.shape.image_size}));
    ASSERT_EQ(outs.size(), c.points);
    EXPECT_EQ(outs.back().sizes(), (std::vector<int64_t>{2, c.shape.num_classes}));
    for (const auto& o : outs) EXPECT_EQ(o.size(0), 2);

    // every parameter and buffer belongs to exactly one imitation point
    std::map<std::string, int> owners;
    for (size_t l = 0; l < net->points().size(); ++l)
      for (const auto& name : net->point_tensor_names(l)) owners[name]++;
    for (const auto& item : net->named_parameters()) EXPECT_EQ(owners[item.key()], 1) << item.key();
    for (const auto& item : net->named_buffers()) EXPECT_EQ(owners[item.key()], 1) << item.key();
  }
}

TEST(Networks, ImagenetStemResNet50) {
  nn::Network net = nn::make_network("resnet50", {3, 64, 200}, /*imagenet_stem=*/true);
  EXPECT_EQ(net->parameter_count(), 23917832);  // torchvision resnet50(num_classes=200)
}

TEST(Networks, TorchvisionNamesForResNets) {
  nn::Network net = nn::make_network("resnet18", {3, 32, 10});
  std::set<std::string> names;
  for (const auto& item : net->named_parameters()) names.insert(item.key());
  for (const auto& item : net->named_buffers()) names.insert(item.key());
  for (const char* n :
       {"conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.num_batches_tracked",
        "layer1.0.conv1.weight", "layer1.1.bn2.bias", "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var", "layer4.1.conv2.weight", "fc.weight", "fc.bias"})
    EXPECT_TRUE(names.count(n)) << n;
  nn::Network r50 = nn::make_network("resnet50", {3, 64, 200});
  std::set<std::string> n50;
  for (const auto& item : r50->named_parameters()) n50.insert(item.key());
  EXPECT_TRUE(n50.count("layer1.0.conv3.weight"));
  EXPECT_TRUE(n50.count("layer3.5.bn3.weight"));
  EXPECT_TRUE(n50.count("layer1.0.downsample.0.weight"));
}

TEST(Networks, PointsOwnTheRightModules) {
  nn::Network net = nn::make_network("resnet20", {3, 32, 10});
  const auto& pts = net->points();
  EXPECT_EQ(pts[0].name, "act");
  EXPECT_EQ(pts[1].name, "layer1.0.act1");
  EXPECT_EQ(pts.back().name, "fc");
  // the second point of layer2.0 owns the shortcut, as in the paper's code
  std::vector<std::string> names;
  for (size_t l = 0; l < pts.size(); ++l)
    if (pts[l].name == "layer2.0.act2") names = net->point_tensor_names(l);
  EXPECT_NE(std::find(names.begin(), names.end(), "layer2.0.downsample.0.weight"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "layer2.0.bn2.running_mean"), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), "layer2.0.conv1.weight"), names.end());

  nn::Network lenet = nn::make_network("lenet", {1, 28, 10});
  EXPECT_EQ(lenet->points()[0].name, "features.2");
  EXPECT_EQ(lenet->point_tensor_names(0),
            (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.1.weight",
                                      "features.1.bias", "features.1.running_mean",
                                      "features.1.running_var", "features.1.num_batches_tracked"}));
}

TEST(Networks, CapturedPointsAreTheActivationOutputs) {
  torch::manual_seed(0);
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  net->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({3, 1, 28, 28});
  auto outs = net->forward_points(x);
  EXPECT_TRUE(outs[0].min().item<float>() >= 0);  // after ReLU
  EXPECT_EQ(outs[0].sizes(), (std::vector<int64_t>{3, 6, 24, 24}));
  EXPECT_EQ(outs[2].sizes(), (std::vector<int64_t>{3, 120}));
  EXPECT_TRUE(torch::equal(outs.back(), net->forward(x)));
}

TEST(Networks, BadNamesAndShapes) {
  try {
    nn::make_network("resnet19", {3, 32, 10});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kConfig);
    EXPECT_NE(std::string(e.what()).find("resnet19"), std::string::npos);
  }
  try {
    nn::make_network("vgg16", {1, 28, 10});  // five poolings of 28x28 leave nothing
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kModel);
    EXPECT_NE(std::string(e.what()).find("1x28x28"), std::string::npos);
  }
}

// ResNet-32 as the reference: "option A" shortcuts (stride-2 subsampling, the
// new channels zero-padded half before and half after), no projection.
TEST(Networks, ResNet32OptionAShortcut) {
  torch::manual_seed(0);
  nn::Network net = nn::make_network("resnet32", {3, 32, 10});
  for (const auto& item : net->named_parameters())
    EXPECT_EQ(item.key().find("downsample"), std::string::npos) << item.key();
  // With every residual branch silenced (bn2 scale and shift zero), a block
  // outputs relu(shortcut(x)); through layer2's five blocks that is
  // relu(option_a(x)) (the later shortcuts are identities, relu idempotent).
  torch::NoGradGuard no_grad;
  for (auto& item : net->named_parameters())
    if (item.key().rfind("layer2.", 0) == 0 && item.key().find(".bn2.") != std::string::npos)
      item.value().zero_();
  net->eval();
  auto layer2 =
      std::dynamic_pointer_cast<torch::nn::SequentialImpl>(net->named_children()["layer2"]);
  ASSERT_TRUE(layer2);
  torch::Tensor x = torch::randn({2, 16, 32, 32});
  torch::Tensor expect = torch::zeros({2, 32, 16, 16});
  expect.narrow(1, 8, 16).copy_(torch::relu(x.slice(2, 0, 32, 2).slice(3, 0, 32, 2)));
  torch::Tensor got = layer2->forward(x);
  ASSERT_EQ(got.sizes(), expect.sizes());
  EXPECT_TRUE(got.equal(expect));
}

// A forward pass that stops after point l (a teacher's target in mimic
// stage l) returns exactly the outputs of points 0..l of the whole pass, and
// the network works normally afterwards.
TEST(Networks, ForwardStopsAfterAPoint) {
  for (const char* name : {"lenet", "resnet20", "mobilenet"}) {
    torch::manual_seed(1);
    nn::Network net = nn::make_network(name, {3, 32, 10});
    net->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::randn({2, 3, 32, 32});
    const std::vector<torch::Tensor> all = net->forward_points(x);
    for (size_t l : {size_t{0}, all.size() / 2, all.size() - 2, all.size() - 1}) {
      const std::vector<torch::Tensor> some = net->forward_points(x, l);
      ASSERT_EQ(some.size(), l + 1) << name << " point " << l;
      for (size_t k = 0; k <= l; ++k)
        EXPECT_TRUE(torch::equal(some[k], all[k])) << name << " point " << k;
    }
    EXPECT_TRUE(torch::equal(net->forward(x), all.back()))
        << name << ": no slot left stopping the pass";
  }
}
