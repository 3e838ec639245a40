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

TraceAccumulator::TraceAccumulator(size_t points, double bound) : points_(points), bound_(bound) {
  reset();
}

void TraceAccumulator::reset() {
  const int64_t l = static_cast<int64_t>(points_);
  sums_ = torch::zeros({l, kSumCols + kHistBins}, torch::kFloat64);
  extreme_ = torch::full({l, 3}, -kInf, torch::kFloat64);
  extreme_.select(1, 2).fill_(0);  // max |x| starts at 0
  samples_ = 0;
}

namespace {

// One point's batch as a row of kSumCols + kHistBins + 3 values on the
// output's device: count, finite, sum, sumsq, nan, inf, above, histogram,
// -min, max, max|x|. NaN is left out of everything but `count` and `nan`;
// Inf counts in the histogram's last bin and in min/max. For batches with
// NaN/Inf only: finite batches take finite_row below.
torch::Tensor point_row(const torch::Tensor& x, double bound) {
  const auto f64 = x.options().dtype(torch::kFloat64);
  const torch::Tensor valid = x.masked_select(torch::isnan(x).logical_not());  // non-NaN values
  const torch::Tensor finite = valid.masked_select(torch::isfinite(valid));
  const auto count = static_cast<double>(x.numel());
  const auto n_valid = static_cast<double>(valid.numel()),
             n_finite = static_cast<double>(finite.numel());
  torch::Tensor abs = valid.abs();
  torch::Tensor sums = torch::stack({
      torch::full({}, count, f64),
      torch::full({}, n_finite, f64),
      torch::sum(finite, torch::kFloat64),
      torch::linalg_vector_norm(finite, 2, c10::nullopt, false, torch::kFloat64).square(),
      torch::full({}, count - n_valid, f64),     // NaN
      torch::full({}, n_valid - n_finite, f64),  // +-Inf
      abs.gt(bound).sum().to(torch::kFloat64),
  });
  if (valid.numel() == 0)  // all NaN: no histogram, extremes untouched
    return torch::cat({sums, torch::zeros({kHistBins}, f64), torch::full({3}, -kInf, f64)});
  torch::Tensor lg =
      abs.log10_().clamp_(kHistLow, kHistLow + kHistBins - 1e-3);  // in place: abs is ours
  torch::Tensor hist =
      torch::histc(lg, kHistBins, kHistLow, kHistLow + kHistBins).to(torch::kFloat64);
  auto [mn, mx] = torch::aminmax(valid);
  torch::Tensor neg_min = mn.neg().to(torch::kFloat64), max = mx.to(torch::kFloat64);
  return torch::cat({sums, hist, torch::stack({neg_min, max, torch::maximum(neg_min, max)})});
}

// The row of a batch without NaN/Inf, in fewer passes over the data than
// point_row: min and max are known already (they showed the batch finite),
// the moments accumulate in fp32 per batch (float64 across batches and
// ranks: R ranks equal one process to ~1e-7 relative in mean and std),
// `above` needs a pass only when max |x| exceeds the bound, and the clamp
// of log10|x| is replaced by counting what histc leaves out (all of it
// below the first edge: finite float32 values never reach the last one).
torch::Tensor finite_row(const torch::Tensor& x, double mn, double mx, double bound) {
  const auto f64 = x.options().dtype(torch::kFloat64);
  const double count = static_cast<double>(x.numel()), max_abs = std::max(-mn, mx);
  const torch::Tensor xf = x.scalar_type() == torch::kFloat32 ? x : x.to(torch::kFloat32);
  torch::Tensor abs = xf.abs();
  torch::Tensor above =
      max_abs > bound ? abs.gt(bound).sum().to(torch::kFloat64) : torch::zeros({}, f64);
  torch::Tensor sums = torch::stack({
      torch::full({}, count, f64),
      torch::full({}, count, f64),
      xf.sum().to(torch::kFloat64),  // fp32 cascade summation: ~1e-7 relative, a tenth of the cost
      torch::dot(xf, xf).to(torch::kFloat64),
      torch::zeros({}, f64),  // NaN
      torch::zeros({}, f64),  // +-Inf
      above,
  });
  torch::Tensor lg =
      abs.log10_();  // in place: abs is ours; log10(0) = -inf falls below the first edge
  // Finite float32 values stay under 3.5e38, below the last edge (1e40):
  // histc leaves out only what lies under the first edge, the first bin's.
  torch::Tensor hist =
      torch::histc(lg, kHistBins, kHistLow, kHistLow + kHistBins).to(torch::kFloat64);
  hist[0] += count - hist.sum();
  return torch::cat({sums, hist, torch::tensor({-mn, mx, max_abs}, f64)});
}

}  // namespace

void TraceAccumulator::add(const std::vector<torch::Tensor>& outputs, int64_t samples) {
  torch::NoGradGuard no_grad;
  samples_ += samples;
  std::vector<torch::Tensor> xs, extremes;
  std::vector<int64_t> index;
  for (size_t l = 0; l < points_ && l < outputs.size(); ++l) {
    torch::Tensor x = outputs[l].detach().reshape({-1});
    if (x.numel() == 0) continue;
    xs.push_back(x);
    auto [mn, mx] = torch::aminmax(x);  // NaN anywhere makes them NaN: the finiteness test too
    extremes.push_back(torch::stack({mn, mx}).to(torch::kFloat64));
    index.push_back(static_cast<int64_t>(l));
  }
  if (xs.empty()) return;
  // Two host transfers per batch whatever the number of points: every
  // point's min and max, then every point's row.
  torch::Tensor ext = torch::stack(extremes).to(torch::kCPU);
  auto e = ext.accessor<double, 2>();
  std::vector<torch::Tensor> rows;
  for (size_t k = 0; k < xs.size(); ++k) {
    const auto i = static_cast<int64_t>(k);
    const bool finite = std::isfinite(e[i][0]) && std::isfinite(e[i][1]);
    rows.push_back(finite ? finite_row(xs[k], e[i][0], e[i][1], bound_) : point_row(xs[k], bound_));
  }
  torch::Tensor block = torch::stack(rows).to(torch::kCPU);  // [points, kSumCols + kHistBins + 3]
  torch::Tensor idx = torch::tensor(index, torch::kInt64);
  sums_.index_add_(0, idx, block.narrow(1, 0, kSumCols + kHistBins));
  extreme_.index_copy_(
      0, idx,
      torch::maximum(extreme_.index_select(0, idx), block.narrow(1, kSumCols + kHistBins, 3)));
}

std::vector<LayerStats> TraceAccumulator::reduce(dist::Communicator* comm, int64_t* samples) const {
  torch::Tensor sums = sums_.clone(), extreme = extreme_.clone();
  torch::Tensor n = torch::tensor({static_cast<double>(samples_)}, torch::kFloat64);
  if (comm && comm->communicates()) {
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
    for (int b = 0; b < kHistBins; ++b)
      st.hist[static_cast<size_t>(b)] = static_cast<int64_t>(s[i][kSumCols + b]);
    const bool any = st.count > st.nan;
    st.min = any ? -e[i][0] : 0;
    st.max = any ? e[i][1] : 0;
    st.max_abs = e[i][2];
  }
  return out;
}

}  // namespace sisyphus::trace
