// Polynomial activations, the exact least-squares ReLU fit, activation specs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "nn/act_spec.h"
#include "nn/polynomial.h"
#include "nn/relu_fit.h"

using namespace sisyphus;

namespace {

void expect_coeffs(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t d = 0; d < want.size(); ++d) EXPECT_NEAR(got[d], want[d], tol) << "coefficient " << d;
}

// The least-squares fit by brute force: the reference code's grid (step
// 1/1000 on [-a, a]) and a dense linear solve.
std::vector<double> grid_fit(int degree, double a) {
  torch::Tensor x = torch::arange(-a, a + 1e-9, 1e-3, torch::kFloat64);
  std::vector<torch::Tensor> cols;
  for (int d = 0; d <= degree; ++d) cols.push_back(x.pow(d));
  torch::Tensor A = torch::stack(cols, 1);
  torch::Tensor y = torch::relu(x).unsqueeze(1);
  torch::Tensor w = torch::linalg_solve(A.t().mm(A), A.t().mm(y)).squeeze(1);
  return std::vector<double>(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
}

}  // namespace

TEST(ReluFit, MatchesClosedFormLegendreCoefficients) {
  // On [-1, 1]: ReLU = 1/4 P0 + 1/2 P1 + 5/16 P2 - 3/32 P4 + ..., so
  // degree 2: 3/32 + x/2 + 15/32 x^2; degree 4: 15/256 + x/2 + 105/128 x^2 - 105/256 x^4.
  expect_coeffs(nn::fit_relu_least_squares(2, 1.0), {3.0 / 32, 0.5, 15.0 / 32}, 1e-15);
  expect_coeffs(nn::fit_relu_least_squares(4, 1.0),
                {15.0 / 256, 0.5, 105.0 / 128, 0.0, -105.0 / 256}, 1e-14);
  // range a: w_d = a^(1-d) c_d
  expect_coeffs(nn::fit_relu_least_squares(2, 5.0), {5 * 3.0 / 32, 0.5, 15.0 / 32 / 5}, 1e-14);
}

TEST(ReluFit, AgreesWithTheReferenceGridFit) {
  for (auto [degree, a] : std::vector<std::pair<int, double>>{{2, 5.0}, {3, 2.0}, {6, 3.0}}) {
    std::vector<double> exact = nn::fit_relu_least_squares(degree, a);
    std::vector<double> grid = grid_fit(degree, a);
    for (size_t d = 0; d < exact.size(); ++d)
      EXPECT_NEAR(exact[d], grid[d], 2e-3 * std::max(1.0, std::abs(exact[d])))
          << degree << " " << a << " " << d;
  }
}

TEST(ReluFit, RejectsBadDegreeAndRange) {
  EXPECT_THROW(nn::fit_relu_least_squares(0, 1.0), Error);
  EXPECT_THROW(nn::fit_relu_least_squares(2, 0.0), Error);
  EXPECT_THROW(nn::fit_relu_least_squares(2, -3.0), Error);
}

TEST(Polynomial, ValuesAndGradients) {
  torch::Tensor x = torch::tensor({-2.0, -0.5, 0.0, 1.5, 3.0}, torch::kFloat64).requires_grad_();
  nn::Quad quad;
  torch::Tensor y = quad.forward(x);
  EXPECT_TRUE(torch::equal(y, x * x));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), 2 * x.detach()));

  x.mutable_grad() = torch::Tensor();
  nn::Polynomial p({1.0, -2.0, 0.5, 0.25});  // 1 - 2x + x^2/2 + x^3/4
  y = p.forward(x);
  torch::Tensor xd = x.detach();
  EXPECT_TRUE(torch::allclose(y, 1 - 2 * xd + 0.5 * xd * xd + 0.25 * xd * xd * xd));
  y.sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), -2 + xd + 0.75 * xd * xd));

  nn::Polynomial taylor(nn::taylor_relu(), "taylor");
  EXPECT_TRUE(torch::allclose(taylor.forward(xd), xd / 2));
  EXPECT_EQ(taylor.describe(), "taylor");
}

TEST(ActSpec, BuildsEveryFormAndRoundTrips) {
  EXPECT_EQ(nn::make_activation("relu", 3)->describe(), "relu");
  EXPECT_EQ(nn::make_activation("quad", 3)->describe(), "quad");
  EXPECT_EQ(nn::make_activation("taylor", 3)->describe(), "taylor");
  EXPECT_EQ(nn::make_activation("amm+quad", 3)->describe(), "amm+quad");
  std::string fitted = nn::make_activation("poly:degree=2,range=5", 3)->describe();
  EXPECT_EQ(fitted, "poly:coeffs=0.46875,0.5,0.09375");
  EXPECT_EQ(nn::make_activation(fitted, 3)->describe(), fitted);
  auto given = std::dynamic_pointer_cast<nn::Polynomial>(
      nn::make_activation("poly:coeffs=0.1,0.5,-2e-3", 1));
  ASSERT_TRUE(given);
  EXPECT_EQ(given->coeffs(), (std::vector<double>{0.1, 0.5, -2e-3}));
  EXPECT_EQ(nn::make_activation("amm+" + fitted, 4)->describe(), "amm+" + fitted);
}

TEST(ActSpec, RejectsBadSpecsWithKConfig) {
  for (const char* bad :
       {"", "swish", "poly:", "poly:degree=2", "poly:degree=2.5,range=1", "poly:degree=2,range=x",
        "poly:coeffs=1,nan", "poly:range=1,degree=2,foo=3", "amm+amm+quad",
        "poly:coeffs=1,degree=2"}) {
    try {
      nn::check_activation_spec(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig) << bad;
      EXPECT_NE(std::string(e.what()).find("bad activation"), std::string::npos) << e.what();
    }
  }
}
