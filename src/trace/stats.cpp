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
    // Few passes, one host transfer: the fast path has no NaN/Inf.
    torch::Tensor valid = x, finite = x;  // non-NaN values; finite values
    double nan = 0, inf = 0;
    if (!torch::isfinite(x).all().item<bool>()) {
      torch::Tensor is_nan = torch::isnan(x);
      nan = static_cast<double>(is_nan.sum().item<int64_t>());
      valid = nan > 0 ? x.masked_select(is_nan.logical_not()) : x;
      torch::Tensor is_inf = torch::isinf(valid);
      inf = static_cast<double>(is_inf.sum().item<int64_t>());
      finite = valid.masked_select(is_inf.logical_not());
    }
    const int64_t i = static_cast<int64_t>(l);
    torch::Tensor row = sums_[i];
    row[0] += static_cast<double>(x.numel());
    row[1] += static_cast<double>(finite.numel());
    row[4] += nan;
    row[5] += inf;
    if (valid.numel() == 0) continue;
    torch::Tensor abs = valid.abs();
    torch::Tensor above = abs.gt(bound_).sum().to(torch::kFloat64);
    torch::Tensor lg = abs.log10_().clamp_(kHistLow, kHistLow + kHistBins - 1e-3);  // in place: abs is ours
    torch::Tensor hist = torch::histc(lg, kHistBins, kHistLow, kHistLow + kHistBins).to(torch::kFloat64);
    auto [mn, mx] = torch::aminmax(valid);
    torch::Tensor sum = finite.numel() ? torch::sum(finite, torch::kFloat64) : torch::zeros({}, torch::kFloat64);
    torch::Tensor norm = finite.numel() ? torch::linalg_vector_norm(finite, 2, c10::nullopt, false, torch::kFloat64)
                                        : torch::zeros({}, torch::kFloat64);
    torch::Tensor host = torch::cat({torch::stack({sum, norm * norm, above, -mn.to(torch::kFloat64),
                                                   mx.to(torch::kFloat64)}),
                                     hist})
                             .to(torch::kCPU);
    auto h = host.accessor<double, 1>();
    row[2] += h[0];
    row[3] += h[1];
    row[6] += h[2];
    row.narrow(0, kSumCols, kHistBins) += host.narrow(0, 5, kHistBins);
    torch::Tensor e = extreme_[i];
    e[0] = std::max(e[0].item<double>(), h[3]);
    e[1] = std::max(e[1].item<double>(), h[4]);
    e[2] = std::max({e[2].item<double>(), h[3], h[4]});  // max |x| = max(-min, max)
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
