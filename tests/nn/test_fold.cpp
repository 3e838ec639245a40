// `fold` is exact: the folded network (no BN, every slot one polynomial per
// channel) computes what the trained network computes in evaluation mode,
// for every activation kind and architecture; HerPN and the learnable
// polynomial; and `cost` counts small networks as computed by hand.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cctype>
#include <string>

#include "core/error.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/batchnorm.h"
#include "nn/channel_poly.h"
#include "nn/fold.h"
#include "nn/he_cost.h"
#include "nn/herpn.h"
#include "nn/poly_math.h"
#include "nn/registry.h"

using namespace sisyphus;

namespace {

// Every BN (the network's and HerPN's) and AMM gets statistics and an affine
// far from the identity, every learnable polynomial its own coefficients.
void randomise_state(nn::NetworkImpl& net) {
  torch::NoGradGuard no_grad;
  for (auto& m : net.modules()) {
    if (auto* bn = m->as<nn::BatchNormImpl>()) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      if (bn->affine()) {
        bn->weight.uniform_(0.5, 1.5);
        bn->bias.uniform_(-0.3, 0.3);
      }
    }
    if (auto* amm = m->as<nn::AmmImpl>()) {
      amm->running_min.uniform_(-3, -1);
      amm->running_max.uniform_(1, 3);
      amm->extreme_min.copy_(amm->running_min - 1);
      amm->extreme_max.copy_(amm->running_max + 1);
      amm->biggest_min.copy_(amm->running_min - 0.5);
      amm->biggest_range.uniform_(3, 6);
    }
    if (auto* herpn = dynamic_cast<nn::HerPN*>(m.get())) {
      herpn->weight.uniform_(0.5, 1.5);
      herpn->bias.uniform_(-0.2, 0.2);
    }
    if (auto* cp = dynamic_cast<nn::ChannelPolynomial*>(m.get())) cp->coeffs.uniform_(-0.3, 0.3);
  }
}

struct Case {
  const char* net;
  nn::NetShape shape;
  const char* act;
  const char* amm_mode;
};

}  // namespace

class FoldExact : public ::testing::TestWithParam<Case> {};

TEST_P(FoldExact, FoldedEqualsEvaluationMode) {
  const Case& c = GetParam();
  torch::manual_seed(3);
  nn::Network net = nn::make_network(c.net, c.shape);
  const torch::Tensor probe =
      torch::zeros({1, c.shape.in_channels, c.shape.image_size, c.shape.image_size});
  nn::set_activations(*net, c.act, probe);
  randomise_state(*net);
  nn::set_amm_mode(*net, nn::parse_amm_mode(c.amm_mode));
  net->eval();
  // inputs small enough that a degree-2 network stays in range
  torch::Tensor x =
      0.5 * torch::randn({4, c.shape.in_channels, c.shape.image_size, c.shape.image_size});
  nn::Network folded = nn::fold_network(*net, c.shape, false, probe);
  torch::NoGradGuard no_grad;
  torch::Tensor want = net->forward(x).to(torch::kFloat64);
  torch::Tensor got = folded->forward(x).to(torch::kFloat64);
  ASSERT_TRUE(want.isfinite().all().item<bool>()) << "the test input escapes";
  const double scale = want.abs().max().item<double>();
  EXPECT_LT((got - want).abs().max().item<double>(), 2e-5 * std::max(scale, 1.0))
      << c.net << " " << c.act << " (logits up to " << scale << ")";
  // the check can fail: AMM folded with other statistics gives other logits
  if (std::string(c.act).rfind("amm+", 0) == 0) {
    nn::set_amm_mode(
        *net, std::string(c.amm_mode) == "extreme" ? nn::AmmMode::kAmm : nn::AmmMode::kExtreme);
    nn::Network other = nn::fold_network(*net, c.shape, false, probe);
    EXPECT_GT((other->forward(x).to(torch::kFloat64) - want).abs().max().item<double>(),
              1e-3 * std::max(scale, 1.0));
  }
  // nothing with batch statistics is left
  for (auto& m : folded->modules()) {
    EXPECT_EQ(m->as<nn::BatchNormImpl>(), nullptr);
    EXPECT_EQ(m->as<nn::AmmImpl>(), nullptr);
  }
  const std::string spec = nn::activation_spec(*folded);
  EXPECT_TRUE(spec == "relu" || spec.rfind("cpoly:degree=", 0) == 0) << spec;
}

INSTANTIATE_TEST_SUITE_P(
    Networks, FoldExact,
    ::testing::Values(Case{"lenet", {1, 28, 10}, "quad", "amm"},
                      Case{"lenet", {1, 28, 10}, "amm+quad", "amm"},
                      Case{"lenet", {1, 28, 10}, "amm+quad", "biggest"},
                      Case{"lenet", {1, 28, 10}, "amm+quad", "extreme"},
                      Case{"lenet", {1, 28, 10}, "herpn", "amm"},
                      Case{"lenet", {1, 28, 10}, "cpoly:degree=2,range=5", "amm"},
                      Case{"lenet", {1, 28, 10}, "amm+poly:degree=4,range=10", "amm"},
                      Case{"lenet", {1, 28, 10}, "relu", "amm"},
                      Case{"mlp", {1, 28, 10}, "amm+herpn", "amm"},
                      Case{"resnet20", {1, 16, 10}, "amm+quad", "amm"},
                      Case{"resnet20", {1, 16, 10}, "herpn", "amm"},
                      Case{"resnet32", {3, 16, 10}, "cpoly:degree=2,range=5", "amm"},
                      Case{"mobilenet", {3, 32, 10}, "amm+quad", "amm"}),
    // names that read in ctest's list: lenet_amm_quad_biggest, resnet32_cpoly_degree_2_range_5_amm
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name =
          std::string(info.param.net) + "_" + info.param.act + "_" + info.param.amm_mode;
      for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name;
    });

TEST(Fold, RefusesMmAndKeepsNamesAndShapes) {
  nn::NetShape shape{1, 28, 10};
  nn::Network net = nn::make_network("lenet", shape);
  const torch::Tensor probe = torch::zeros({1, 1, 28, 28});
  nn::set_activations(*net, "amm+quad", probe);
  nn::set_amm_mode(*net, nn::AmmMode::kMm);
  EXPECT_THROW(nn::fold_network(*net, shape, false, probe), Error);
  nn::set_amm_mode(*net, nn::AmmMode::kAmm);
  nn::Network folded = nn::fold_network(*net, shape, false, probe);
  // the folded LeNet: every conv/linear with a bias, its slots' coefficient tables
  std::vector<std::string> names;
  for (const auto& item : folded->named_parameters()) names.push_back(item.key());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "features.0.weight", "features.0.bias", "features.2.fn.coeffs",
                       "features.4.weight", "features.4.bias", "features.6.fn.coeffs",
                       "classifier.1.weight", "classifier.1.bias", "classifier.3.fn.coeffs",
                       "classifier.4.weight", "classifier.4.bias", "classifier.6.fn.coeffs",
                       "classifier.7.weight", "classifier.7.bias"}));
  EXPECT_EQ(folded->named_buffers().size(), 0u);
}

TEST(PolyMath, ComposeAffineExpandsBinomially) {
  // p(z) = 1 + 2 z + 3 z^2 at z = 2x - 1: 3(4x^2 - 4x + 1) + 2(2x - 1) + 1 = 12x^2 - 8x + 2
  torch::Tensor p = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64).unsqueeze(0);
  torch::Tensor q = nn::compose_affine(p, torch::tensor({2.0}, torch::kFloat64),
                                       torch::tensor({-1.0}, torch::kFloat64));
  EXPECT_TRUE(torch::allclose(q, torch::tensor({{2.0, -8.0, 12.0}}, torch::kFloat64)));
  torch::Tensor x = torch::randn({5, 1}, torch::kFloat64);
  EXPECT_TRUE(torch::allclose(nn::evaluate_channel_poly(x, q), 12 * x * x - 8 * x + 2));
}

TEST(HerPN, TrainingNormalisesEachBasisAndInferenceIsItsPolynomial) {
  torch::manual_seed(5);
  nn::HerPN h(3);
  torch::Tensor x = torch::randn({64, 3, 4, 4}) * 2 + 1;
  h.train();
  torch::Tensor y = h.forward(x);
  // with weight 1, bias 0: f0 + f1 z1 + f2 z2, both z standardised over the batch
  auto standardise = [](const torch::Tensor& t) {
    torch::Tensor m = t.mean({0, 2, 3}, true), v = t.var({0, 2, 3}, false, true);
    return (t - m) / (v + 1e-5).sqrt();
  };
  torch::Tensor want = nn::HerPN::kF0 + nn::HerPN::kF1 * standardise(x) +
                       nn::HerPN::kF2 * standardise((x * x - 1) / std::sqrt(2.0));
  EXPECT_TRUE(torch::allclose(y, want, 1e-4, 1e-5));
  for (int i = 0; i < 20; ++i) h.forward(x);  // running statistics settle towards the batch's
  h.eval();
  torch::Tensor table = h.inference_polynomial(3);
  EXPECT_TRUE(torch::allclose(h.forward(x).to(torch::kFloat64),
                              nn::evaluate_channel_poly(x.to(torch::kFloat64), table), 1e-4, 1e-5));
  // the ReLU coefficients in the normalised Hermite basis
  EXPECT_NEAR(nn::HerPN::kF0, 1 / std::sqrt(2 * M_PI), 1e-15);
  EXPECT_NEAR(nn::HerPN::kF2, 1 / (2 * std::sqrt(M_PI)), 1e-15);
}

TEST(ChannelPolynomial, StartsFromTheFitAndLearnsPerChannel) {
  nn::ChannelPolynomial cp(4, 2, 5.0);
  EXPECT_EQ(cp.describe(), "cpoly:degree=2,range=5");
  EXPECT_NEAR(cp.coeffs[2][2].item<double>(), 15.0 / 32 / 5, 1e-7);
  torch::Tensor x = torch::randn({8, 4});
  cp.forward(x).pow(2).sum().backward();
  EXPECT_TRUE(cp.coeffs.grad().defined());
  EXPECT_GT(cp.coeffs.grad().abs().sum().item<double>(), 0);
  EXPECT_EQ(nn::make_activation("cpoly:degree=3", 4)->describe(), "cpoly:degree=3");
  EXPECT_EQ(nn::make_activation("amm+herpn", 4)->describe(), "amm+herpn");
  for (const char* bad : {"cpoly:degree=0", "cpoly:range=5", "cpoly:degree=2.5",
                          "cpoly:degree=2,range=-1", "cpoly:degree=2,width=3", "herpn:x=1"})
    EXPECT_THROW(nn::check_activation_spec(bad), Error) << bad;
}

TEST(HeCost, PolynomialRules) {
  auto cost = [](std::vector<double> c) {
    return nn::polynomial_cost(nn::repeat_coefficients(c, 1), 1);
  };
  nn::OpCount quad = cost({0, 0, 1}), general = cost({0.1, 0.5, 0.3}), half = cost({0, 0.5}),
              monic = cost({2, 3, 1});
  EXPECT_EQ(quad.depth, 1);
  EXPECT_EQ(quad.ct_ct, 1);
  EXPECT_EQ(quad.pt_ct, 0);
  EXPECT_EQ(general.depth, 2);  // a x^2: (a x) x
  EXPECT_EQ(general.ct_ct, 1);
  EXPECT_EQ(general.pt_ct, 2);
  EXPECT_EQ(half.depth, 1);
  EXPECT_EQ(half.ct_ct, 0);
  EXPECT_EQ(monic.depth, 1);                  // x^2 and 3x side by side
  EXPECT_EQ(cost({0, 0, 0, 0, 1}).depth, 2);  // x^4 = (x^2)^2
  // ReLU: sign by degrees 15, 15, 27: (4+1) + (4+1) + (5+1) + 1 levels; 14+14+26+1 ct-ct; 8+8+14 pt
  nn::OpCount relu = nn::relu_composite_cost({15, 15, 27});
  EXPECT_EQ(relu.depth, 17);
  EXPECT_EQ(relu.ct_ct, 55);
  EXPECT_EQ(relu.pt_ct, 30);
  EXPECT_THROW(nn::relu_composite_cost({4}), Error);
}

TEST(HeCost, MlpByHand) {
  nn::NetShape shape{1, 28, 10};
  nn::Network net = nn::make_network("mlp", shape);
  const torch::Tensor probe = torch::zeros({1, 1, 28, 28});
  nn::set_activations(*net, "quad", probe);
  // linear 784->256 (1 level, 200704 pt), BN (1, 256 pt), x^2 (1, 256 ct), linear 256->10 (1, 2560)
  nn::CostReport r = nn::he_cost(*net, probe);
  EXPECT_EQ(r.total.depth, 4);
  EXPECT_EQ(r.total.ct_ct, 256);
  EXPECT_EQ(r.total.pt_ct, 200704 + 256 + 2560);
  EXPECT_EQ(r.with_relu.depth, 1 + 1 + 17 + 1);
  EXPECT_EQ(r.with_relu.ct_ct, 256 * 55);
  EXPECT_EQ(r.with_relu.pt_ct, 200704 + 256 + 256 * 30 + 2560);
  // folded: the BN is gone, the slot is 1 x^2 per channel
  nn::Network folded = nn::fold_network(*net, shape, false, probe);
  nn::CostReport f = nn::he_cost(*folded, probe);
  EXPECT_EQ(f.total.depth, 3);
  EXPECT_EQ(f.total.ct_ct, 256);
  EXPECT_EQ(f.total.pt_ct, 200704 + 2560);
}

TEST(HeCost, LenetAndResnet20ByHand) {
  nn::NetShape lshape{1, 28, 10};
  nn::Network lenet = nn::make_network("lenet", lshape);
  const torch::Tensor lprobe = torch::zeros({1, 1, 28, 28});
  nn::set_activations(*lenet, "quad", lprobe);
  nn::CostReport l = nn::he_cost(*nn::fold_network(*lenet, lshape, false, lprobe), lprobe);
  // conv 6x24x24 outputs x 25, conv 16x8x8 x 150, 256->120, 120->84, 84->10; four squarings
  EXPECT_EQ(l.total.pt_ct, 3456 * 25 + 1024 * 150 + 256 * 120 + 120 * 84 + 84 * 10);
  EXPECT_EQ(l.total.ct_ct, 3456 + 1024 + 120 + 84);
  EXPECT_EQ(l.total.depth, 4 * 2 + 1);
  // ResNet-20: 19 conv + act points and the fc on the main path; its BNs add a level each
  // except the shortcuts' (off the critical path)
  nn::NetShape rshape{1, 16, 10};
  nn::Network r20 = nn::make_network("resnet20", rshape);
  const torch::Tensor rprobe = torch::zeros({1, 1, 16, 16});
  nn::set_activations(*r20, "quad", rprobe);
  EXPECT_EQ(nn::he_cost(*r20, rprobe).total.depth, 19 * 3 + 1);
  EXPECT_EQ(nn::he_cost(*nn::fold_network(*r20, rshape, false, rprobe), rprobe).total.depth,
            19 * 2 + 1);
}
