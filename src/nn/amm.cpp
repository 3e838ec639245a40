#include "nn/amm.h"

#include <torch/torch.h>

#include <limits>

#include "core/error.h"
#include "nn/poly_math.h"

namespace sisyphus::nn {
namespace {

std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

std::vector<int64_t> channel_shape(const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

// Per-channel min (or max) of x [N, C, ...] over every other dimension. A
// channels-last batch of few channels is reduced as its rows of C values
// folded k at a time, [R/k, k*C] and then [k, C]: torch reduces the outer
// dimension of [R, C] for C = 16 about 10x slower than the same batch in
// NCHW (128x16x28x28: 16.6 ms against 1.14 ms; folded 1.9 ms; docs/benchmarks.md,
// run F). Min and max are exact in any order, NaN included.
torch::Tensor channel_extreme(const torch::Tensor& x, bool max) {
  const int64_t c = x.size(1);
  if (x.dim() == 4 && c > 0 && c < 32 && !x.is_contiguous() &&
      x.is_contiguous(torch::MemoryFormat::ChannelsLast)) {
    const int64_t rows = x.numel() / c;
    int64_t k = 256 / c;  // a power of two when c is
    while (k > 1 && rows % k != 0) k /= 2;
    const torch::Tensor folded = x.permute({0, 2, 3, 1}).view({rows / k, k * c});
    const torch::Tensor part = max ? folded.amax(0) : folded.amin(0);
    return max ? part.view({k, c}).amax(0) : part.view({k, c}).amin(0);
  }
  const std::vector<int64_t> dims = reduce_dims(x);
  return max ? x.amax(dims) : x.amin(dims);
}

// Per channel, the number of true elements of a mask [N, C, ...] (exact
// integers). torch sums a bool NCHW mask over (0, 2, 3) about 10x slower than
// over each image's rows and then the batch (128x16x28x28: 12.7 ms against
// 1.1 ms, one thread); a channels-last mask sums fast as it is (2.5 ms).
torch::Tensor channel_count(const torch::Tensor& mask) {
  if (mask.dim() > 2 && mask.is_contiguous())
    return mask.view({mask.size(0), mask.size(1), -1}).sum(2).sum(0);
  return mask.sum(reduce_dims(mask));
}

// x [N, C, ...] -> [min | max] per channel over the batch (over all ranks'
// batches when synchronised). Backward: the gradient of a channel's min
// (max) is shared evenly by every element that attains it, on every rank,
// as torch.amin does in one process. The incoming gradients are weighted by
// each rank's sample count and summed over the ranks (every rank's loss
// depends on the global values), together with the number of elements each
// rank holds at the extreme: one all-reduce.
class BatchMinMax : public torch::autograd::Function<BatchMinMax> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               double local_count, StatSyncPtr sync) {
    const int64_t c = x.size(1);
    torch::Tensor work;
    if (x.size(0) > 0) {
      work = torch::cat({-channel_extreme(x, false), channel_extreme(x, true)});
    } else {  // no samples here: the identity of max on both halves
      work = torch::full({2 * c}, -std::numeric_limits<float>::infinity(), x.options());
    }
    if (sync) sync->max(work);
    torch::Tensor global = torch::cat({-work.narrow(0, 0, c), work.narrow(0, c, c)});
    ctx->saved_data["n"] = local_count;
    ctx->saved_data["sync"] = sync_capsule(sync);
    ctx->save_for_backward({x, global});
    return global;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const double n = ctx->saved_data["n"].toDouble();
    auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const int64_t c = x.size(1);
    const std::vector<int64_t> shape = channel_shape(x);
    torch::Tensor at_min = x.eq(saved[1].narrow(0, 0, c).view(shape));
    torch::Tensor at_max = x.eq(saved[1].narrow(0, c, c).view(shape));
    torch::Tensor held =
        x.size(0) > 0
            ? torch::cat({channel_count(at_min), channel_count(at_max)}).to(grads[0].dtype())
            : torch::zeros({2 * c}, grads[0].options());
    torch::Tensor packed = torch::cat({grads[0] * n, held}).contiguous();
    if (StatSyncPtr sync = sync_from_capsule(ctx->saved_data["sync"])) sync->sum(packed);
    if (n <= 0 || x.size(0) == 0) return {torch::zeros_like(x), torch::Tensor(), torch::Tensor()};
    torch::Tensor share =
        packed.narrow(0, 0, 2 * c) / n / packed.narrow(0, 2 * c, 2 * c).clamp_min(1);
    // where() rather than mask * share: a bool NCHW mask cast to float runs
    // slowly in torch (16x28x28 channels: 5.6 ms against 12.7 ms, one thread)
    torch::Tensor gx = torch::where(at_min, share.narrow(0, 0, c).view(shape), 0.0) +
                       torch::where(at_max, share.narrow(0, c, c).view(shape), 0.0);
    return {gx, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

AmmMode parse_amm_mode(const std::string& name) {
  if (name == "amm") return AmmMode::kAmm;
  if (name == "mm") return AmmMode::kMm;
  if (name == "biggest") return AmmMode::kBiggest;
  if (name == "extreme") return AmmMode::kExtreme;
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "unknown AMM inference mode '" + name + "' (known: amm, mm, biggest, extreme)");
}

std::vector<std::string> amm_mode_names() { return {"amm", "mm", "biggest", "extreme"}; }

const std::vector<std::string>& amm_later_buffers() {
  static const std::vector<std::string> names = {".amm.biggest_min", ".amm.biggest_range"};
  return names;
}

std::string amm_mode_name(AmmMode mode) {
  switch (mode) {
    case AmmMode::kAmm:
      return "amm";
    case AmmMode::kMm:
      return "mm";
    case AmmMode::kBiggest:
      return "biggest";
    case AmmMode::kExtreme:
      return "extreme";
  }
  return "amm";
}

AmmImpl::AmmImpl(int64_t channels, double eps, double momentum)
    : channels_(channels), eps_(eps), momentum_(momentum) {
  running_min = register_buffer("running_min", torch::zeros({channels}));
  running_max = register_buffer("running_max", torch::zeros({channels}));
  extreme_min = register_buffer("extreme_min", torch::zeros({channels}));
  extreme_max = register_buffer("extreme_max", torch::zeros({channels}));
  biggest_min =
      register_buffer("biggest_min", torch::ones({channels}));  // the reference starts both at 1
  biggest_range = register_buffer("biggest_range", torch::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kInt64));
}

bool AmmImpl::has_statistics(AmmMode mode) const {
  if (mode != AmmMode::kBiggest) return true;
  return !(biggest_min.isnan().any().item<bool>() || biggest_range.isnan().any().item<bool>());
}

torch::Tensor AmmImpl::batch_min_max(const torch::Tensor& x) {
  return BatchMinMax::apply(x, static_cast<double>(x.size(0)), sync_);
}

// Entirely on the device (no host synchronisation per layer on a GPU): the
// first batch and a batch that is empty on every rank (min > max) are
// selected with masks instead of branches.
void AmmImpl::update_running(const torch::Tensor& mn, const torch::Tensor& mx) {
  torch::NoGradGuard no_grad;
  const torch::Tensor first = num_batches_tracked.eq(0);  // [] bool
  const torch::Tensor valid = mn.le(mx).all();            // [] bool: some rank had samples
  auto follow = [&](torch::Tensor& running, const torch::Tensor& batch) {
    torch::Tensor moved = running * (1 - momentum_);
    moved.add_(batch, momentum_);
    running.copy_(torch::where(valid, torch::where(first, batch, moved), running));
  };
  auto extend = [&](torch::Tensor& extreme, const torch::Tensor& batch, bool lower) {
    torch::Tensor ext = lower ? torch::minimum(extreme, batch) : torch::maximum(extreme, batch);
    extreme.copy_(torch::where(valid, torch::where(first, batch, ext), extreme));
  };
  follow(running_min, mn);
  follow(running_max, mx);
  extend(extreme_min, mn, /*lower=*/true);
  extend(extreme_max, mx, /*lower=*/false);
  // the reference's mode 0: no first-batch rule (both start at 1)
  biggest_min.copy_(torch::where(valid, torch::minimum(biggest_min, mn), biggest_min));
  biggest_range.copy_(torch::where(valid, torch::maximum(biggest_range, mx - mn), biggest_range));
  num_batches_tracked.add_(valid.to(torch::kInt64));
}

torch::Tensor AmmImpl::forward(const torch::Tensor& input) {
  SISYPHUS_CHECK(input.dim() >= 2 && input.size(1) == channels_, ErrorKind::kModel,
                 "AMM for " + std::to_string(channels_) + " channels got an input of shape " +
                     c10::str(input.sizes()));
  const torch::Tensor x =
      as_fp32(input);       // min/max and the division in fp32, also under bf16 autocast
  torch::Tensor lo, range;  // [C]
  if (is_training() || mode_ == AmmMode::kMm) {
    torch::Tensor both = batch_min_max(x);  // joins the collective even without samples here
    lo = both.narrow(0, 0, channels_);
    range = both.narrow(0, channels_, channels_) - lo;
    // No early return for a rank without samples: its (empty) output must
    // still depend on the min/max, so that backward's all-reduce runs on it.
    if (is_training()) update_running(lo.detach(), both.narrow(0, channels_, channels_).detach());
  } else if (mode_ == AmmMode::kAmm) {
    lo = running_min;
    range = running_max - running_min;
  } else if (mode_ == AmmMode::kBiggest) {
    lo = biggest_min;
    range = biggest_range;
  } else {
    lo = extreme_min;
    range = extreme_max - extreme_min;
  }
  // y = 2 (x - lo) / range - 1 in two passes over x instead of four (and as
  // many backward): -1 + (x - lo) / (range / 2). Halving and doubling are
  // exact, so the value is the four-step form's bit for bit.
  const std::vector<int64_t> shape = channel_shape(x);
  const torch::Tensor half_range = range.clamp_min(eps_) / 2;  // [C]
  return torch::addcdiv(torch::full({1}, -1.0, x.options()), x - lo.view(shape),
                        half_range.view(shape));
}

std::pair<torch::Tensor, torch::Tensor> AmmImpl::inference_affine() const {
  SISYPHUS_CHECK(mode_ != AmmMode::kMm, ErrorKind::kConfig,
                 "AMM mode mm normalises with each batch's min/max: it has no fixed map to fold "
                 "(use amm, biggest or extreme)");
  SISYPHUS_CHECK(has_statistics(mode_), ErrorKind::kConfig,
                 "AMM mode " + amm_mode_name(mode_) + ": this network has no such statistics");
  torch::NoGradGuard no_grad;
  const auto f64 = [](const torch::Tensor& t) {
    return t.detach().to(torch::kCPU, torch::kFloat64);
  };
  torch::Tensor lo, range;
  if (mode_ == AmmMode::kAmm) {
    lo = f64(running_min);
    range = f64(running_max) - lo;
  } else if (mode_ == AmmMode::kBiggest) {
    lo = f64(biggest_min);
    range = f64(biggest_range);
  } else {
    lo = f64(extreme_min);
    range = f64(extreme_max) - lo;
  }
  // forward: 2 (x - lo) / clamp(range, eps) - 1, the clamp taken in fp32 as there
  torch::Tensor denom = range.to(torch::kFloat32).clamp_min(eps_).to(torch::kFloat64);
  torch::Tensor alpha = 2.0 / denom;
  return {alpha, -alpha * lo - 1.0};
}

AmmActivation::AmmActivation(int64_t channels, std::shared_ptr<Activation> inner)
    : amm_(channels), inner_(std::move(inner)) {
  register_module("amm", amm_);
  register_module("act", inner_);
}

torch::Tensor AmmActivation::forward(const torch::Tensor& x) {
  return inner_->forward(amm_->forward(x));
}

}  // namespace sisyphus::nn

namespace sisyphus::nn {

torch::Tensor AmmActivation::inference_polynomial(int64_t channels) {
  torch::Tensor inner = inner_->inference_polynomial(channels);
  if (!inner.defined()) return inner;
  auto [alpha, beta] = amm_->inference_affine();
  return compose_affine(inner, alpha, beta);
}

}  // namespace sisyphus::nn
