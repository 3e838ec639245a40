#include "engine/escape_guard.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace sisyphus::train {

std::string GuardReading::where() const {
  return first_rank < 0 ? "" : " (first seen on rank " + std::to_string(first_rank) + ")";
}

torch::Tensor point_maxima(const std::vector<torch::Tensor>& outputs, size_t checked) {
  torch::NoGradGuard no_grad;
  if (checked == 0) return torch::empty({0}, torch::kFloat64);
  std::vector<torch::Tensor> maxima;  // 0-dim, on the outputs' device
  for (size_t l = 0; l < checked; ++l) {
    const torch::Tensor& x = outputs.at(l);
    maxima.push_back(x.numel() == 0 ? torch::zeros({}, x.options().dtype(torch::kFloat64))
                                    : x.detach().abs().max().to(torch::kFloat64));
  }
  torch::Tensor all = torch::stack(maxima);
  // NaN compares false everywhere: make it +inf so that max-reduction keeps it
  all.masked_fill_(all.isnan(), std::numeric_limits<double>::infinity());
  return all.to(torch::kCPU);  // the one transfer
}

GuardReading check_escape(const std::vector<torch::Tensor>& outputs, size_t checked, double loss,
                          double bound, dist::Communicator* comm, bool grads_nonfinite,
                          bool stop_signal) {
  const double inf = std::numeric_limits<double>::infinity();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  parts.push_back(torch::tensor({std::isfinite(loss) ? loss : inf}, torch::kFloat64));
  parts.push_back(point_maxima(outputs, checked));
  // this rank's own verdict, as (world - rank) so that the max names the lowest rank
  torch::Tensor mine = torch::cat(parts);
  const bool fault = grads_nonfinite || (mine.isinf() | mine.gt(bound)).any().item<bool>();
  const int world = comm ? comm->size() : 1, rank = comm ? comm->rank() : 0;
  parts.push_back(torch::tensor({stop_signal ? 1.0 : 0.0}, torch::kFloat64));
  parts.push_back(torch::tensor({grads_nonfinite ? 1.0 : 0.0}, torch::kFloat64));
  parts.push_back(
      torch::tensor({fault ? static_cast<double>(world - rank) : 0.0}, torch::kFloat64));
  torch::Tensor all = torch::cat(parts);
  if (comm && comm->communicates()) comm->all_reduce(all, dist::ReduceOp::kMax);
  GuardReading r;
  auto v = all.accessor<double, 1>();
  const int64_t n = all.size(0);
  r.loss = v[0];
  for (int64_t i = 1; i < n - 3; ++i) r.max_abs.push_back(v[i]);
  r.stop_signal = v[n - 3] > 0;
  r.grads = v[n - 2] > 0;
  if (v[n - 1] > 0) r.first_rank = world - static_cast<int>(v[n - 1]);
  if (r.grads) {
    r.escaped = true;
    r.value = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
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
