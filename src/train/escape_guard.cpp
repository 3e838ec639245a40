#include "train/escape_guard.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace sisyphus::train {

GuardReading check_escape(const std::vector<torch::Tensor>& outputs, size_t checked, double loss,
                          double bound, dist::Communicator* comm) {
  const double inf = std::numeric_limits<double>::infinity();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  parts.push_back(torch::tensor({std::isfinite(loss) ? loss : inf}, torch::kFloat64));
  for (size_t l = 0; l < checked; ++l) {
    const torch::Tensor& x = outputs.at(l);
    if (x.numel() == 0) {
      parts.push_back(torch::zeros({1}, torch::kFloat64));
      continue;
    }
    torch::Tensor m = x.detach().abs().max().to(torch::kFloat64).reshape({1});
    // NaN compares false everywhere: make it +inf so that max-reduction keeps it
    parts.push_back(torch::where(torch::isnan(m), torch::full_like(m, inf), m).cpu());
  }
  torch::Tensor all = torch::cat(parts);
  if (comm && comm->size() > 1) comm->all_reduce(all, dist::ReduceOp::kMax);
  GuardReading r;
  auto v = all.accessor<double, 1>();
  r.loss = v[0];
  for (int64_t i = 1; i < all.size(0); ++i) r.max_abs.push_back(v[i]);
  if (!std::isfinite(r.loss) || r.loss > bound) {
    r.escaped = true;
    r.value = r.loss;
    return r;
  }
  for (size_t l = 0; l < r.max_abs.size(); ++l) {
    if (!std::isfinite(r.max_abs[l]) || r.max_abs[l] > bound) {
      r.escaped = true;
      r.point = static_cast<int64_t>(l);
      r.value = r.max_abs[l];
      return r;
    }
  }
  return r;
}

}  // namespace sisyphus::train
