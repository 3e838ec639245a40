#include "trace/stats.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>

namespace sisyphus::trace {
namespace {
constexpr int64_t kSumCols = 7;
const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<double> hist_edges() {
  std::vector<double> e;
  for (int i = 0; i <= kHistBins; ++i) e.push_back(kHistLow + i);
  return e;
}

TraceAccumulator::TraceAccumulator(size_t points, double bound) : points_(points), bound_(bound) { reset(); }

void TraceAccumulator::reset() {
  const int64_t l = static_cast<int64_t>(points_);
  sums_ = torch::zeros({l, kSumCols + kHistBins}, torch::kFloat64);
  extreme_ = torch::full({l, 3}, -kInf, torch::kFloat64);
  extreme_.select(1, 2).fill_(0);  // max |x| starts at 0
  samples_ = 0;
}

void TraceAccumulator::add(const std::vector<torch::Tensor>& outputs, int64_t samples) {
  torch::NoGradGuard no_grad;
  samples_ += samples;
  for (size_t l = 0; l < points_ && l < outputs.size(); ++l) {
    torch::Tensor x = outputs[l].detach().reshape({-1});
    if (x.numel() == 0) continue;
    torch::Tensor is_nan = torch::isnan(x);
    const double nan = static_cast<double>(is_nan.sum().item<int64_t>());
    torch::Tensor valid = nan > 0 ? x.masked_select(is_nan.logical_not()) : x;  // non-NaN
    torch::Tensor is_inf = torch::isinf(valid);
    const double inf = static_cast<double>(is_inf.sum().item<int64_t>());
    torch::Tensor finite = inf > 0 ? valid.masked_select(is_inf.logical_not()) : valid;
    torch::Tensor abs = valid.abs();
    torch::Tensor row = sums_[static_cast<int64_t>(l)];
    row[0] += static_cast<double>(x.numel());
    row[1] += static_cast<double>(finite.numel());
    if (finite.numel() > 0) {
      torch::Tensor fd = finite.to(torch::kFloat64);
      row[2] += fd.sum().item<double>();
      row[3] += (fd * fd).sum().item<double>();
    }
    row[4] += nan;
    row[5] += inf;
    row[6] += static_cast<double>(abs.gt(bound_).sum().item<int64_t>());
    if (valid.numel() > 0) {
      torch::Tensor lg = abs.to(torch::kFloat64).log10().clamp(kHistLow, kHistLow + kHistBins - 1e-9);
      row.narrow(0, kSumCols, kHistBins) += torch::histc(lg, kHistBins, kHistLow, kHistLow + kHistBins);
      torch::Tensor e = extreme_[static_cast<int64_t>(l)];
      e[0] = std::max(e[0].item<double>(), -valid.min().item<double>());
      e[1] = std::max(e[1].item<double>(), valid.max().item<double>());
      e[2] = std::max(e[2].item<double>(), abs.max().item<double>());
    }
  }
}

std::vector<LayerStats> TraceAccumulator::reduce(dist::Communicator* comm, int64_t* samples) const {
  torch::Tensor sums = sums_.clone(), extreme = extreme_.clone();
  torch::Tensor n = torch::tensor({static_cast<double>(samples_)}, torch::kFloat64);
  if (comm && comm->size() > 1) {
    torch::Tensor packed = torch::cat({sums.reshape({-1}), n});
    comm->all_reduce(packed, dist::ReduceOp::kSum);
    sums = packed.narrow(0, 0, sums.numel()).view_as(sums);
    n = packed.narrow(0, sums.numel(), 1);
    comm->all_reduce(extreme, dist::ReduceOp::kMax);
  }
  if (samples) *samples = static_cast<int64_t>(n.item<double>());
  std::vector<LayerStats> out(points_);
  auto s = sums.accessor<double, 2>();
  auto e = extreme.accessor<double, 2>();
  for (size_t l = 0; l < points_; ++l) {
    const int64_t i = static_cast<int64_t>(l);
    LayerStats& st = out[l];
    st.count = static_cast<int64_t>(s[i][0]);
    const double finite = s[i][1];
    st.mean = finite > 0 ? s[i][2] / finite : 0;
    st.std = finite > 0 ? std::sqrt(std::max(0.0, s[i][3] / finite - st.mean * st.mean)) : 0;
    st.nan = static_cast<int64_t>(s[i][4]);
    st.inf = static_cast<int64_t>(s[i][5]);
    st.above = static_cast<int64_t>(s[i][6]);
    for (int b = 0; b < kHistBins; ++b) st.hist[static_cast<size_t>(b)] = static_cast<int64_t>(s[i][kSumCols + b]);
    const bool any = st.count > st.nan;
    st.min = any ? -e[i][0] : 0;
    st.max = any ? e[i][1] : 0;
    st.max_abs = e[i][2];
  }
  return out;
}

}  // namespace sisyphus::trace
