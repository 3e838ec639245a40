// Our BatchNorm against torch::batch_norm, and its synchronised path (with a
// one-rank "all-reduce") against the plain one: forward, running statistics
// and gradients.
#include <gtest/gtest.h>
#include <torch/torch.h>

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
