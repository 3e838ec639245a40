#include "trace/stats.h"

#include <torch/torch.h>

#include "dist/interval_timer.h"
#include "trace/sample.h"
#include "trace/scan.h"

#include <cmath>
#include <limits>

namespace sisyphus::trace {
namespace {
constexpr int64_t kSumCols = 7;

const double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TraceAccumulator::TraceAccumulator(size_t points, double bound, int64_t sample_per_image)
    : points_(points), bound_(bound), per_image_(sample_per_image) {
  reset();
}

void TraceAccumulator::reset() {
  const int64_t l = static_cast<int64_t>(points_);
  sums_ = torch::zeros({l, kSumCols + kHistBins}, torch::kFloat64);
  extreme_ = torch::full({l, 3}, -kInf, torch::kFloat64);
  extreme_.select(1, 2).fill_(0);  // max |x| starts at 0
  samples_ = 0;
  pending_ = Pending{};
}

namespace {

// A 4-d batch that PyTorch keeps channels-last (NHWC in memory).
bool channels_last_4d(const torch::Tensor& x) {
  return x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// Every value of x once, flat in memory order: a view where x is contiguous
// or channels-last (reshape({-1}) of a channels-last batch copies it).
torch::Tensor flat_values(const torch::Tensor& x) {
  return channels_last_4d(x) ? x.permute({0, 2, 3, 1}).reshape({-1}) : x.reshape({-1});
}

// The values of one point's batch output x [N, ...] that the histogram and
// the moments are taken over: at most `per_image` values of every image, at
// the same positions in each (every stride-th value, an odd stride, so the
// positions spread over channels and pixels alike). The union of the ranks'
// samples is then exactly one process's sample of the combined batch.
// per_image 0, or an image of fewer values: every value.
// A channels-last batch is sampled where its memory keeps the same values:
// the same sample, in the same order, as the NCHW batch, without a copy.
torch::Tensor sample_of(const torch::Tensor& x, int64_t per_image) {
  const int64_t n = x.dim() > 0 ? x.size(0) : 1;
  const int64_t p = n > 0 ? x.numel() / n : 0;
  const int64_t stride = sample_stride(p, per_image);
  if (stride == 1) return x.reshape({-1});
  torch::Tensor positions =
      torch::arange(0, p, stride, torch::TensorOptions().dtype(torch::kInt64).device(x.device()));
  if (channels_last_4d(x)) {  // NCHW position c*HW + hw is NHWC position hw*C + c
    const int64_t c = x.size(1), hw = p / c;
    positions = positions.remainder(hw) * c + torch::div(positions, hw, "floor");
  }
  return flat_values(x).view({n, p}).index_select(1, positions).reshape({-1});
}

// The histogram of the non-NaN values v: each value's bin is the number of
// edges (sample.h: powers of ten, exact) at or below |v|.
torch::Tensor log_histogram(const torch::Tensor& v) {
  const auto f64 = v.options().dtype(torch::kFloat64);
  if (v.numel() == 0) return torch::zeros({kHistBins}, f64);
  const bool dbl = v.scalar_type() == torch::kFloat64;
  const torch::Tensor a = (dbl ? v : v.to(torch::kFloat)).abs();
  const torch::Tensor edges =
      dbl ? torch::tensor(hist_edges_double(), f64)
          : torch::tensor(hist_edges_float(), v.options().dtype(torch::kFloat));
  const torch::Tensor bin = torch::bucketize(a, edges, /*out_int32=*/false, /*right=*/true);
  return torch::zeros({kHistBins}, f64).scatter_add_(0, bin, torch::ones_like(bin, f64));
}

// One point's batch as a row of kSumCols + kHistBins + 3 values on the
// output's device: count, in-moments, sum, sumsq, nan, inf, above, histogram,
// -min, max, max|x|. Exact over every value: count, nan, inf, above, min,
// max, max|x|. Over the sample (sample_of): the histogram (its non-NaN
// values) and the moments (its finite values; "in-moments" counts them).
// For batches with NaN/Inf only: finite batches take finite_row below.
torch::Tensor point_row(const torch::Tensor& x, const torch::Tensor& sample, double bound) {
  const auto f64 = x.options().dtype(torch::kFloat64);
  const auto count = static_cast<double>(x.numel());
  const torch::Tensor nan = torch::isnan(x);
  if (nan.all().item<bool>())  // the usual point after an overflow: two passes, not eight
    return torch::cat({torch::tensor({count, 0.0, 0.0, 0.0, count, 0.0, 0.0}, f64),
                       torch::zeros({kHistBins}, f64), torch::full({3}, -kInf, f64)});
  const torch::Tensor valid = x.masked_select(nan.logical_not());  // non-NaN values
  const auto n_valid = static_cast<double>(valid.numel());
  const auto n_finite = static_cast<double>(torch::isfinite(valid).sum().item<int64_t>());
  const torch::Tensor s_valid = sample.masked_select(torch::isnan(sample).logical_not());
  const torch::Tensor s_finite = s_valid.masked_select(torch::isfinite(s_valid));
  torch::Tensor sums = torch::stack({
      torch::full({}, count, f64),
      torch::full({}, static_cast<double>(s_finite.numel()), f64),
      torch::sum(s_finite, torch::kFloat64),
      torch::linalg_vector_norm(s_finite, 2, c10::nullopt, false, torch::kFloat64).square(),
      torch::full({}, count - n_valid, f64),     // NaN
      torch::full({}, n_valid - n_finite, f64),  // +-Inf
      valid.abs().gt(bound).sum().to(torch::kFloat64),
  });
  if (valid.numel() == 0)  // all NaN: no histogram, extremes untouched
    return torch::cat({sums, torch::zeros({kHistBins}, f64), torch::full({3}, -kInf, f64)});
  auto [mn, mx] = torch::aminmax(valid);
  torch::Tensor neg_min = mn.neg().to(torch::kFloat64), max = mx.to(torch::kFloat64);
  return torch::cat(
      {sums, log_histogram(s_valid), torch::stack({neg_min, max, torch::maximum(neg_min, max)})});
}

// The row of a batch without NaN/Inf: min and max are known already (they
// showed the batch finite), `above` needs a pass over every value only when
// max |x| exceeds the bound; the rest is the sample's.
torch::Tensor finite_row(const torch::Tensor& x, const torch::Tensor& sample, double mn, double mx,
                         double bound) {
  const auto f64 = x.options().dtype(torch::kFloat64);
  const double count = static_cast<double>(x.numel()), max_abs = std::max(-mn, mx);
  const torch::Tensor above =
      max_abs > bound ? x.abs().gt(bound).sum().to(torch::kFloat64) : torch::zeros({}, f64);
  const torch::Tensor sd = sample.to(torch::kFloat64);
  torch::Tensor sums = torch::stack({
      torch::full({}, count, f64),
      torch::full({}, static_cast<double>(sample.numel()), f64),
      sd.sum(),
      torch::dot(sd, sd),
      torch::zeros({}, f64),  // NaN
      torch::zeros({}, f64),  // +-Inf
      above,
  });
  return torch::cat({sums, log_histogram(sample), torch::tensor({-mn, mx, max_abs}, f64)});
}

// Whether a batch takes the CPU path (scan.h, sample.h): float32 in memory
// order on the CPU.
bool scannable(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat && x.is_contiguous();
}

}  // namespace

void TraceAccumulator::add(const std::vector<torch::Tensor>& outputs, int64_t samples) {
  for (size_t l = 0; l < points_ && l < outputs.size(); ++l) add_point(l, outputs[l]);
  end_batch(samples);
}

void TraceAccumulator::add_point(size_t l, const torch::Tensor& output) {
  if (l >= points_) return;
  dist::TimedWait timed(timer_);
  torch::NoGradGuard no_grad;
  const torch::Tensor out = output.detach();
  torch::Tensor x = flat_values(out);  // the statistics over every value take any order
  if (x.numel() == 0) return;
  Pending& p = pending_;
  if (scannable(x)) {  // the CPU: taken at once, no second look at the batch
    add_scanned(l, out, x);
    p.scanned = true;
    return;
  }
  p.xs.push_back(x);
  p.picked.push_back(sample_of(out, per_image_));
  auto [mn, mx] = torch::aminmax(x);  // NaN anywhere makes them NaN: the finiteness test too
  p.extremes.push_back(torch::stack({mn, mx}).to(torch::kFloat64));
  p.index.push_back(static_cast<int64_t>(l));
}

// The exact part from one pass over every value (scan.h), the sampled part
// from the sample's positions only (sample.h), straight into this point's
// sums and extremes: no tensors per point.
void TraceAccumulator::add_scanned(size_t l, const torch::Tensor& out, const torch::Tensor& x) {
  const ValueScan v = scan_values(x.data_ptr<float>(), x.numel(), static_cast<float>(bound_));
  const int64_t images = out.dim() > 0 ? out.size(0) : 1;
  const int64_t channels = channels_last_4d(out) ? out.size(1) : 0;
  const SampleSums smp =
      sample_sums(x.data_ptr<float>(), images, x.numel() / images, per_image_, channels);
  double* r = sums_.data_ptr<double>() + static_cast<int64_t>(l) * (kSumCols + kHistBins);
  r[0] += static_cast<double>(x.numel());
  r[1] += static_cast<double>(smp.finite);
  r[2] += smp.sum;
  r[3] += smp.sumsq;
  r[4] += static_cast<double>(v.nan);
  r[5] += static_cast<double>(v.inf);
  r[6] += static_cast<double>(v.above);
  for (int b = 0; b < kHistBins; ++b) r[kSumCols + b] += static_cast<double>(smp.hist[b]);
  // all NaN: min +Inf and max -Inf leave the extremes as they were
  double* e = extreme_.data_ptr<double>() + static_cast<int64_t>(l) * 3;
  const double neg_min = -static_cast<double>(v.min), max = v.max;
  e[0] = std::max(e[0], neg_min);
  e[1] = std::max(e[1], max);
  e[2] = std::max(e[2], std::max(neg_min, max));
}

void TraceAccumulator::end_batch(int64_t samples) {
  dist::TimedWait timed(timer_);
  torch::NoGradGuard no_grad;
  samples_ += samples;
  Pending p = std::move(pending_);
  pending_ = Pending{};
  if (!p.scanned && p.xs.empty()) return;
  ++batches_computed_;
  if (p.xs.empty()) return;  // every point was taken on the CPU path
  // On a GPU, two host transfers per batch whatever the number of points:
  // every point's min and max, then every point's row.
  torch::Tensor ext = torch::stack(p.extremes).to(torch::kCPU);
  auto e = ext.accessor<double, 2>();
  std::vector<torch::Tensor> rows;
  for (size_t k = 0; k < p.xs.size(); ++k) {
    const auto i = static_cast<int64_t>(k);
    const bool finite = std::isfinite(e[i][0]) && std::isfinite(e[i][1]);
    rows.push_back(finite ? finite_row(p.xs[k], p.picked[k], e[i][0], e[i][1], bound_)
                          : point_row(p.xs[k], p.picked[k], bound_));
  }
  torch::Tensor block = torch::stack(rows).to(torch::kCPU);  // [points, kSumCols + kHistBins + 3]
  torch::Tensor idx = torch::tensor(p.index, torch::kInt64);
  sums_.index_add_(0, idx, block.narrow(1, 0, kSumCols + kHistBins));
  extreme_.index_copy_(
      0, idx,
      torch::maximum(extreme_.index_select(0, idx), block.narrow(1, kSumCols + kHistBins, 3)));
}

std::vector<LayerStats> TraceAccumulator::reduce(dist::Communicator* comm, int64_t* samples) const {
  dist::TimedWait timed(timer_);
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
