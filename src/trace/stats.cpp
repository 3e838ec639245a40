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

namespace {

// One point's batch as a row of kSumCols + kHistBins + 3 values, computed on
// the output's device without a host round trip: count, finite, sum,
// sumsq, nan, inf, above, histogram, -min, max, max|x| (NaN excluded from
// everything but `count` and `nan`).
torch::Tensor point_row(const torch::Tensor& x, double bound) {
  const auto f64 = torch::kFloat64;
  torch::Tensor is_nan = torch::isnan(x);
  torch::Tensor is_finite = torch::isfinite(x);
  torch::Tensor finite_or_0 = torch::where(is_finite, x, torch::zeros({}, x.options()));
  torch::Tensor abs = x.abs();  // NaN stays NaN: compares false, lands in the dropped bin below
  torch::Tensor sums = torch::stack({
      torch::full({}, static_cast<double>(x.numel()), x.options().dtype(f64)),
      is_finite.sum().to(f64),
      finite_or_0.sum(f64),
      torch::linalg_vector_norm(finite_or_0, 2, c10::nullopt, false, f64).square(),
      is_nan.sum().to(f64),
      torch::isinf(x).sum().to(f64),
      abs.gt(bound).sum().to(f64),
  });
  // bin = floor(log10|x|) - kHistLow, clamped to the first/last bin; NaN -> an extra bin, dropped
  torch::Tensor bin = abs.log10_().clamp_(kHistLow, kHistLow + kHistBins - 1e-3).sub_(kHistLow).floor_();
  torch::Tensor index = torch::where(is_nan, torch::full({}, static_cast<double>(kHistBins), bin.options()), bin)
                            .to(torch::kInt64);
  torch::Tensor hist = torch::zeros({kHistBins + 1}, x.options().dtype(f64))
                           .scatter_add_(0, index, torch::ones({x.numel()}, x.options().dtype(f64)))
                           .narrow(0, 0, kHistBins);
  const torch::Tensor pos_inf = torch::full({}, kInf, x.options()), neg_inf = torch::full({}, -kInf, x.options());
  torch::Tensor neg_min = torch::where(is_nan, pos_inf, x).amin().neg().to(f64);  // +Inf when all NaN -> -Inf
  torch::Tensor max = torch::where(is_nan, neg_inf, x).amax().to(f64);
  torch::Tensor extreme = torch::stack({neg_min, max, torch::maximum(neg_min, max)});
  return torch::cat({sums, hist, extreme});
}

}  // namespace

void TraceAccumulator::add(const std::vector<torch::Tensor>& outputs, int64_t samples) {
  torch::NoGradGuard no_grad;
  samples_ += samples;
  std::vector<torch::Tensor> rows;
  std::vector<int64_t> index;
  for (size_t l = 0; l < points_ && l < outputs.size(); ++l) {
    torch::Tensor x = outputs[l].detach().reshape({-1});
    if (x.numel() == 0) continue;
    rows.push_back(point_row(x, bound_));
    index.push_back(static_cast<int64_t>(l));
  }
  if (rows.empty()) return;
  torch::Tensor block = torch::stack(rows).to(torch::kCPU);  // one transfer: [points, kSumCols + kHistBins + 3]
  torch::Tensor idx = torch::tensor(index, torch::kInt64);
  sums_.index_add_(0, idx, block.narrow(1, 0, kSumCols + kHistBins));
  extreme_.index_copy_(0, idx, torch::maximum(extreme_.index_select(0, idx), block.narrow(1, kSumCols + kHistBins, 3)));
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
