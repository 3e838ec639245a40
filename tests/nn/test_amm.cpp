// AMM normalisation against hand-computed values, all inference modes, 1d and
// 2d inputs, the max = min guard and gradients through min and max.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "nn/amm.h"

using namespace sisyphus;

namespace {

torch::Tensor t1(std::vector<float> v) { return torch::tensor(v); }

}  // namespace

TEST(Amm, TwoDimensionalTrainingAndRunningStatistics) {
  nn::Amm amm(2);
  amm->train();
  // [N=2, C=2, H=1, W=2]; channel 0 holds {1, 3, -1, 5}, channel 1 holds {2, 2, 4, 0}
  torch::Tensor x = torch::tensor({1.f, 3.f, 2.f, 2.f, -1.f, 5.f, 4.f, 0.f}).view({2, 2, 1, 2});
  torch::Tensor y = amm->forward(x);
  // channel 0: min -1, max 5 -> 2(x+1)/6 - 1; channel 1: min 0, max 4 -> 2x/4 - 1
  torch::Tensor want =
      torch::tensor({2 * 2 / 6.f - 1, 2 * 4 / 6.f - 1, 0.f, 0.f, -1.f, 1.f, 1.f, -1.f})
          .view({2, 2, 1, 2});
  EXPECT_TRUE(torch::allclose(y, want, 1e-6, 1e-6)) << y;
  // the first batch sets every estimate
  EXPECT_TRUE(torch::equal(amm->running_min, t1({-1, 0})));
  EXPECT_TRUE(torch::equal(amm->running_max, t1({5, 4})));
  EXPECT_TRUE(torch::equal(amm->extreme_min, t1({-1, 0})));
  EXPECT_TRUE(torch::equal(amm->extreme_max, t1({5, 4})));
  EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), 1);

  // second batch: channel 0 in [-3, 1], channel 1 in [1, 10]
  torch::Tensor x2 = torch::tensor({-3.f, 1.f, 1.f, 10.f}).view({1, 2, 1, 2});
  amm->forward(x2);
  EXPECT_TRUE(torch::allclose(amm->running_min, t1({0.9f * -1 + 0.1f * -3, 0.9f * 0 + 0.1f * 1})));
  EXPECT_TRUE(torch::allclose(amm->running_max, t1({0.9f * 5 + 0.1f * 1, 0.9f * 4 + 0.1f * 10})));
  EXPECT_TRUE(torch::equal(amm->extreme_min, t1({-3, 0})));
  EXPECT_TRUE(torch::equal(amm->extreme_max, t1({5, 10})));
  // the reference's "biggest": smallest batch min, largest batch range, both from 1
  // (batch ranges: channel 0 6 then 4, channel 1 4 then 9)
  EXPECT_TRUE(torch::equal(amm->biggest_min, t1({-3, 0})));
  EXPECT_TRUE(torch::equal(amm->biggest_range, t1({6, 9})));

  // inference modes on a fresh input
  amm->eval();
  torch::Tensor z = torch::tensor({0.f, 2.f, 1.f, 3.f}).view({1, 2, 1, 2});
  torch::Tensor rmin = amm->running_min.view({1, 2, 1, 1}),
                rmax = amm->running_max.view({1, 2, 1, 1});
  EXPECT_TRUE(torch::allclose(amm->forward(z), 2 * (z - rmin) / (rmax - rmin) - 1));  // amm
  amm->set_mode(nn::AmmMode::kMm);
  torch::Tensor mm =
      torch::tensor({-1.f, 1.f, -1.f, 1.f}).view({1, 2, 1, 2});  // each channel's own min/max
  EXPECT_TRUE(torch::allclose(amm->forward(z), mm));
  amm->set_mode(nn::AmmMode::kExtreme);
  torch::Tensor emin = t1({-3, 0}).view({1, 2, 1, 1}), emax = t1({5, 10}).view({1, 2, 1, 1});
  EXPECT_TRUE(torch::allclose(amm->forward(z), 2 * (z - emin) / (emax - emin) - 1));
  amm->set_mode(nn::AmmMode::kBiggest);
  torch::Tensor bmin = t1({-3, 0}).view({1, 2, 1, 1}), brange = t1({6, 9}).view({1, 2, 1, 1});
  EXPECT_TRUE(torch::allclose(amm->forward(z), 2 * (z - bmin) / brange - 1));
  // evaluation never moves the estimates
  EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), 2);
  EXPECT_TRUE(torch::equal(amm->extreme_max, t1({5, 10})));
}

// The reference starts both "biggest" buffers at 1 and has no first-batch
// rule: a min that stays above 1 leaves it at 1, and
// ranges under 1 never shrink the range below 1.
TEST(Amm, BiggestStatisticsStartAtOneAsTheReference) {
  nn::Amm amm(1);
  amm->train();
  amm->forward(torch::tensor({2.f, 2.5f, 3.f}).view({3, 1}));
  EXPECT_TRUE(torch::equal(amm->biggest_min, t1({1})));
  EXPECT_TRUE(torch::equal(amm->biggest_range, t1({1})));
  amm->forward(torch::tensor({0.5f, 4.5f}).view({2, 1}));
  EXPECT_TRUE(torch::equal(amm->biggest_min, t1({0.5})));
  EXPECT_TRUE(torch::equal(amm->biggest_range, t1({4})));
  EXPECT_TRUE(amm->has_statistics(nn::AmmMode::kBiggest));
  amm->biggest_range.fill_(
      std::numeric_limits<float>::quiet_NaN());  // as loaded from an older checkpoint
  EXPECT_FALSE(amm->has_statistics(nn::AmmMode::kBiggest));
  EXPECT_TRUE(amm->has_statistics(nn::AmmMode::kAmm));
}

TEST(Amm, OneDimensionalAndGuardAgainstEqualMinMax) {
  nn::Amm amm(3);
  amm->train();
  // [N=3, C=3]; channel 2 is constant: max = min
  torch::Tensor x = torch::tensor({0.f, 10.f, 7.f, 2.f, 20.f, 7.f, 4.f, 0.f, 7.f}).view({3, 3});
  torch::Tensor y = amm->forward(x);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  EXPECT_TRUE(torch::allclose(y.select(1, 0), t1({-1, 0, 1})));
  EXPECT_TRUE(torch::allclose(y.select(1, 1), t1({0, 1, -1})));
  EXPECT_TRUE(torch::allclose(y.select(1, 2), t1({-1, -1, -1})));  // (x - min) = 0 over eps
  EXPECT_TRUE(torch::equal(amm->running_min, t1({0, 0, 7})));
  EXPECT_TRUE(torch::equal(amm->running_max, t1({4, 20, 7})));
}

TEST(Amm, GradientsFlowThroughMinAndMax) {
  nn::Amm amm(2);
  amm->train();
  torch::manual_seed(3);
  torch::Tensor x = torch::randn({4, 2, 3, 3}, torch::kFloat64);
  torch::Tensor w = torch::randn({4, 2, 3, 3}, torch::kFloat64);
  amm->to(torch::kFloat64);
  auto f = [&](const torch::Tensor& in) { return (amm->forward(in) * w).sum(); };
  torch::Tensor xg = x.clone().requires_grad_();
  f(xg).backward();
  // central differences (the running estimates move, the output does not depend on them in
  // training)
  torch::Tensor numeric = torch::zeros_like(x);
  const double h = 1e-6;
  for (int64_t i = 0; i < x.numel(); ++i) {
    torch::Tensor a = x.clone(), b = x.clone();
    a.view({-1})[i] += h;
    b.view({-1})[i] -= h;
    numeric.view({-1})[i] = (f(a).item<double>() - f(b).item<double>()) / (2 * h);
  }
  EXPECT_TRUE(torch::allclose(xg.grad(), numeric, 1e-5, 1e-6)) << (xg.grad() - numeric).abs().max();
  // the extremes' elements get more than the direct term: min/max carry gradient
  torch::Tensor direct = 2 * w / (x.amax({0, 2, 3}, true) - x.amin({0, 2, 3}, true));
  EXPECT_GT((xg.grad() - direct).abs().max().item<double>(), 1e-3);
}

TEST(Amm, TiedExtremesShareTheirGradientLikeAmin) {
  nn::Amm amm(1);
  amm->train();
  // one channel: min 0 attained 3 times, max 4 attained twice
  torch::Tensor x = torch::tensor({0.f, 4.f, 0.f, 1.f, 4.f, 0.f}).view({6, 1}).requires_grad_();
  torch::Tensor xr = x.detach().clone().requires_grad_();
  (amm->forward(x) * torch::arange(6).view({6, 1})).sum().backward();
  torch::Tensor mn = xr.amin({0}), mx = xr.amax({0});
  ((2 * (xr - mn) / (mx - mn) - 1) * torch::arange(6).view({6, 1})).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), xr.grad())) << x.grad() << xr.grad();
}

// A channels-last batch (the per-channel reduction folds its rows: few
// channels, row counts that 2, 4, ... do or do not divide) gives bitwise the
// NCHW batch's output, running statistics and gradient; a NaN spreads over
// its channel in both.
TEST(Amm, ChannelsLastEqualsNchwBitwise) {
  torch::manual_seed(5);
  for (auto shape : {std::vector<int64_t>{8, 16, 6, 6}, std::vector<int64_t>{3, 3, 5, 7},
                     std::vector<int64_t>{2, 24, 3, 3}, std::vector<int64_t>{4, 64, 2, 2}}) {
    const int64_t c = shape[1];
    nn::Amm a(c), b(c);
    a->train();
    b->train();
    torch::Tensor x = torch::randn(shape) * 3;
    torch::Tensor w = torch::randn(shape);
    torch::Tensor xa = x.clone().requires_grad_();
    torch::Tensor xb = x.contiguous(torch::MemoryFormat::ChannelsLast).requires_grad_();
    ASSERT_FALSE(xb.is_contiguous());
    torch::Tensor ya = a->forward(xa), yb = b->forward(xb);
    (ya * w).sum().backward();
    (yb * w).sum().backward();
    EXPECT_TRUE(torch::equal(ya, yb.contiguous())) << "C=" << c;
    EXPECT_TRUE(torch::equal(xa.grad(), xb.grad().contiguous())) << "C=" << c;
    EXPECT_TRUE(torch::equal(a->running_min, b->running_min)) << "C=" << c;
    EXPECT_TRUE(torch::equal(a->running_max, b->running_max)) << "C=" << c;
    EXPECT_TRUE(torch::equal(a->running_min, x.amin({0, 2, 3}) * 1.f)) << "C=" << c;
    torch::Tensor xn = x.clone();
    xn[shape[0] - 1][c - 1][0][0] = std::numeric_limits<float>::quiet_NaN();
    nn::Amm na(c), nb(c);
    na->train();
    nb->train();
    torch::Tensor yna = na->forward(xn),
                  ynb = nb->forward(xn.contiguous(torch::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(torch::isnan(yna.select(1, c - 1)).all().item<bool>()) << "C=" << c;
    EXPECT_TRUE(torch::allclose(yna, ynb.contiguous(), 0, 0, /*equal_nan=*/true)) << "C=" << c;
  }
}

TEST(Amm, ParsesModes) {
  EXPECT_EQ(nn::parse_amm_mode("amm"), nn::AmmMode::kAmm);
  EXPECT_EQ(nn::parse_amm_mode("mm"), nn::AmmMode::kMm);
  EXPECT_EQ(nn::parse_amm_mode("biggest"), nn::AmmMode::kBiggest);
  EXPECT_EQ(nn::parse_amm_mode("extreme"), nn::AmmMode::kExtreme);
  EXPECT_THROW(nn::parse_amm_mode("minmax"), std::exception);
  EXPECT_EQ(nn::amm_mode_name(nn::AmmMode::kMm), "mm");
}
