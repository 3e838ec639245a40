// Our BatchNorm against torch::batch_norm, and its synchronised path (with a
// one-rank "all-reduce") against the plain one: forward, running statistics
// and gradients.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nn/batchnorm.h"

using namespace sisyphus;

namespace {

struct BnRun {
  torch::Tensor y, dx, dw, db, rm, rv;
};

BnRun run(bool synced, const torch::Tensor& x0, const torch::Tensor& dy) {
  nn::BatchNorm bn(x0.size(1));
  if (synced) {  // a one-rank "all-reduce": the synchronised code path
    auto one_rank = std::make_shared<nn::StatSync>();
    one_rank->sum = [](torch::Tensor&) {};
    one_rank->max = [](torch::Tensor&) {};
    bn->set_sync(one_rank);
  }
  {
    torch::NoGradGuard g;
    bn->weight.copy_(torch::linspace(0.5, 1.5, x0.size(1)));
    bn->bias.copy_(torch::linspace(-0.2, 0.3, x0.size(1)));
  }
  torch::Tensor x = x0.clone().set_requires_grad(true);
  torch::Tensor y = bn->forward(x);
  (y * dy).sum().backward();
  return {y.detach(),
          x.grad(),
          bn->weight.grad(),
          bn->bias.grad(),
          bn->running_mean.clone(),
          bn->running_var.clone()};
}

void expect_close(const torch::Tensor& a, const torch::Tensor& b, const char* what) {
  double err = (a - b).abs().max().item<double>() / std::max(1e-12, b.abs().max().item<double>());
  EXPECT_LT(err, 1e-5) << what << " relative error " << err;
}

}  // namespace

TEST(BatchNorm, MatchesTorchAndSyncedPathMatchesPlain) {
  torch::manual_seed(3);
  for (auto shape : {std::vector<int64_t>{16, 5}, std::vector<int64_t>{8, 4, 6, 6}}) {
    torch::Tensor x = torch::randn(shape) * 3 + 1;
    torch::Tensor dy = torch::randn(shape);
    BnRun plain = run(false, x, dy);
    BnRun synced = run(true, x, dy);
    // plain == torch's functional batch norm
    torch::Tensor rm = torch::zeros({shape[1]}), rv = torch::ones({shape[1]});
    torch::Tensor ref =
        torch::batch_norm(x, torch::linspace(0.5, 1.5, shape[1]),
                          torch::linspace(-0.2, 0.3, shape[1]), rm, rv, true, 0.1, 1e-5, true);
    expect_close(plain.y, ref, "plain y");
    expect_close(plain.rv, rv, "plain running_var");
    expect_close(synced.y, plain.y, "synced y");
    expect_close(synced.dx, plain.dx, "synced dx");
    expect_close(synced.dw, plain.dw, "synced dweight");
    expect_close(synced.db, plain.db, "synced dbias");
    expect_close(synced.rm, plain.rm, "synced running_mean");
    expect_close(synced.rv, plain.rv, "synced running_var");
  }
}

// SyncBN under bf16 autocast gets bf16 conv outputs. It normalises them in
// fp32 (as cuDNN and torch's batch_norm do): on channels whose mean is large
// against their spread, a bf16 mean alone would be off by up to 1/256 of
// it. Here the mean is about 50 and the spread 1, so a bf16 normalisation
// misses by about 0.1; the fp32 one lands within one bf16 rounding of the
// output (about 0.008 at |y| < 4).
TEST(BatchNorm, SyncedPathNormalisesBf16InputsInFp32) {
  torch::manual_seed(7);
  const torch::Tensor x32 = torch::randn({32, 4, 5, 5}) + 50.3;
  const torch::Tensor x = x32.to(torch::kBFloat16);  // what autocast hands the layer
  nn::BatchNorm synced(4), plain(4);
  auto one_rank = std::make_shared<nn::StatSync>();
  one_rank->sum = [](torch::Tensor&) {};
  one_rank->max = [](torch::Tensor&) {};
  synced->set_sync(one_rank);
  torch::NoGradGuard g;
  const torch::Tensor y = synced->forward(x);
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);  // the output keeps the input's dtype
  // the reference: the same bf16 values normalised in fp32, rounded once to bf16
  const torch::Tensor want = plain->forward(x.to(torch::kFloat32)).to(torch::kBFloat16);
  // within one bf16 step (2^-7 of the value) of it, element by element
  const torch::Tensor err = (y.to(torch::kFloat32) - want.to(torch::kFloat32)).abs();
  const torch::Tensor step = want.to(torch::kFloat32).abs() * std::ldexp(1.0, -7) + 1e-3;
  EXPECT_TRUE(err.le(step).all().item<bool>())
      << "worst error " << err.max().item<double>() << " (a bf16 normalisation misses by ~0.1)";
  EXPECT_TRUE(synced->running_mean.allclose(plain->running_mean, 1e-5, 1e-5));
}
