// Range control of activation inputs (beyond the paper): the penalty's
// gradient (power and peak forms) against finite differences and its closed form, clipping only in
// training, and the objective's lambda * sum over the slots.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "data/loader.h"
#include "engine/objective.h"
#include "engine/range_control.h"
#include "nn/act_spec.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/registry.h"

using namespace sisyphus;

namespace {

nn::ActivationSlot penalised_slot(double bound, double power, bool clip = false) {
  nn::ActivationSlot slot;
  slot->set(nn::make_activation("quad", 3));
  nn::RangeControl r;
  r.bound = bound;
  r.power = power;
  r.penalty = true;
  r.clip = clip;
  slot->set_range(r);
  slot->train();
  return slot;
}

double penalty_at(nn::ActivationSlot& slot, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  slot->forward(x);
  return slot->take_penalty().item<double>();
}

}  // namespace

TEST(RangePenalty, GradientMatchesFiniteDifferencesAndClosedForm) {
  for (double power : {2.0, 4.0, 10.0}) {
    nn::ActivationSlot slot = penalised_slot(/*bound=*/1.5, power);
    torch::manual_seed(11);
    torch::Tensor x = (torch::randn({4, 3, 2, 2}, torch::kFloat64) * 1.2).requires_grad_(true);
    slot->forward(x);
    torch::Tensor pen = slot->take_penalty();
    ASSERT_TRUE(pen.defined());
    pen.backward();
    const torch::Tensor grad = x.grad().clone();
    // closed form: p |x/r|^(p-1) sign(x) / (r N)
    torch::Tensor xd = x.detach();
    torch::Tensor want = power * (xd / 1.5).abs().pow(power - 1) * xd.sign() / (1.5 * xd.numel());
    EXPECT_TRUE(torch::allclose(grad, want, 1e-10, 1e-12)) << "p=" << power;
    // central differences on a few elements
    for (int64_t i : {0, 7, 21, 40}) {
      const double h = 1e-6;
      torch::Tensor up = xd.clone(), down = xd.clone();
      up.view(-1)[i] += h;
      down.view(-1)[i] -= h;
      const double fd = (penalty_at(slot, up) - penalty_at(slot, down)) / (2 * h);
      EXPECT_NEAR(grad.view(-1)[i].item<double>(), fd, 1e-6 * std::max(1.0, std::abs(fd)))
          << "p=" << power << " element " << i;
    }
  }
}

TEST(RangePenalty, PeakFormChargesOnlyImagesAboveTheBoundAtTheirLargestInput) {
  nn::ActivationSlot slot = penalised_slot(/*bound=*/2.0, 10);
  nn::RangeControl r;
  r.bound = 2.0;
  r.penalty = true;
  r.form = nn::RangeControl::Form::peak;
  slot->set_range(r);
  // image 0 peaks at -5 (m/r - 1 = 1.5), image 1 stays inside (1.9), image 2 peaks at 3 (0.5)
  torch::Tensor x =
      torch::tensor(
          {{{0.5, -5.0}, {1.0, 4.0}}, {{1.9, -1.0}, {0.0, 0.2}}, {{3.0, 2.5}, {-2.9, 0.0}}},
          torch::kFloat64)
          .requires_grad_(true);
  slot->forward(x);
  torch::Tensor pen = slot->take_penalty();
  EXPECT_NEAR(pen.item<double>(), (1.5 * 1.5 + 0.5 * 0.5) / 3, 1e-12);
  pen.backward();
  // closed form: 2 (m/r - 1) sign(x_k) / (r N) at each image's argmax k, 0 elsewhere
  torch::Tensor want = torch::zeros_like(x);
  want[0][0][1] = -2 * 1.5 / (2.0 * 3);
  want[2][0][0] = 2 * 0.5 / (2.0 * 3);
  EXPECT_TRUE(torch::allclose(x.grad(), want, 1e-12, 1e-12)) << x.grad();
  for (int64_t i : {1, 3, 8}) {  // central differences, the argmaxes included
    const double h = 1e-6;
    torch::Tensor up = x.detach().clone(), down = x.detach().clone();
    up.view(-1)[i] += h;
    down.view(-1)[i] -= h;
    const double fd = (penalty_at(slot, up) - penalty_at(slot, down)) / (2 * h);
    EXPECT_NEAR(x.grad().view(-1)[i].item<double>(), fd, 1e-6) << "element " << i;
  }
  // however far beyond r, quadratic: an untrained network's 1e4 costs 1e8, not (1e4/r)^10
  EXPECT_NEAR(penalty_at(slot, torch::full({1, 4}, 2e4, torch::kFloat64)), 9999.0 * 9999.0, 1e-3);
}

TEST(RangePenalty, ClipsOnlyInTrainingAndTracksTheLargestInput) {
  nn::ActivationSlot slot = penalised_slot(/*bound=*/1.0, 10, /*clip=*/true);
  torch::Tensor x = torch::tensor({{-3.0, 0.5, 2.0}});
  EXPECT_TRUE(torch::allclose(slot->forward(x), torch::tensor({{1.0, 0.25, 1.0}})));
  EXPECT_DOUBLE_EQ(slot->max_abs_input(), 3.0);
  slot->reset_max_abs_input();
  EXPECT_DOUBLE_EQ(slot->max_abs_input(), -1.0);
  slot->eval();  // inference is never clipped, and adds no penalty
  EXPECT_TRUE(torch::allclose(slot->forward(x), torch::tensor({{9.0, 0.25, 4.0}})));
  EXPECT_FALSE(slot->take_penalty().defined());
}

TEST(RangePenalty, ClipBoundSetsTheClipApartFromThePenaltysBound) {
  nn::ActivationSlot slot;
  slot->set(nn::make_activation("quad", 3));
  nn::RangeControl r;
  r.bound = 1.0;  // the penalty's r
  r.form = nn::RangeControl::Form::peak;
  r.penalty = true;
  r.clip = true;
  r.clip_bound = 2.5;
  slot->set_range(r);
  slot->train();
  torch::Tensor x = torch::tensor({{-3.0, 0.5, 2.0}});
  // clamped to [-2.5, 2.5], not [-1, 1], then squared
  EXPECT_TRUE(torch::allclose(slot->forward(x), torch::tensor({{6.25, 0.25, 4.0}})));
  // the penalty sees the unclipped peak 3: (3/1 - 1)^2
  EXPECT_DOUBLE_EQ(slot->take_penalty().item<double>(), 4.0);
}

TEST(RangePenalty, ObjectiveAddsLambdaTimesTheSumOverSlots) {
  torch::manual_seed(2);
  nn::Network net = nn::make_network("mlp", {1, 28, 10});
  train::RangeConfig rc;
  rc.penalty = 0.25;
  rc.bound = 0.5;
  rc.power = 4;
  train::set_range_control(*net, rc);
  net->train();
  data::Batch batch;
  batch.images = torch::randn({8, 1, 28, 28});
  batch.labels = torch::randint(0, 10, {8}, torch::kInt64);
  train::Objective plain = train::Objective::cross_entropy();
  train::Objective penalised = train::Objective::cross_entropy();
  penalised.with_range_penalty(*net, rc.penalty);
  std::vector<torch::Tensor> outs = net->forward_points(batch.images);
  const double ce = plain.loss(outs, batch).item<double>();
  outs = net->forward_points(batch.images);
  const double total = penalised.loss(outs, batch).item<double>();
  // the mlp's one slot takes the BN's output (training mode: this batch's statistics)
  auto modules = net->named_modules();
  torch::Tensor z =
      modules["classifier.1"]->as<torch::nn::LinearImpl>()->forward(batch.images.flatten(1));
  z = modules["classifier.2"]->as<nn::BatchNormImpl>()->forward(z);
  const double want = ce + 0.25 * (z / 0.5).abs().pow(4).mean().item<double>();
  EXPECT_NEAR(total, want, 1e-5 * want);
  EXPECT_EQ(penalised.describe(*net), "cross-entropy + range penalty");
  // lambda 0 adds nothing
  train::Objective zero = train::Objective::cross_entropy();
  zero.with_range_penalty(*net, 0.0);
  outs = net->forward_points(batch.images);
  EXPECT_DOUBLE_EQ(zero.loss(outs, batch).item<double>(), ce);
}
