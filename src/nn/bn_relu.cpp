#include "nn/bn_relu.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "nn/batchnorm.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && defined(__ELF__)
// one body, compiled for each instruction set and chosen when the program loads
#define SISYPHUS_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SISYPHUS_VECTOR_CLONES
#endif

namespace sisyphus::nn {
namespace {

constexpr int kLanes = 16;  // independent float accumulators per row: a vector's worth

// One channel of an NCHW batch: `images` rows of `hw` values, `stride` apart.
struct Channel {
  const float* x;
  int64_t images, stride, hw;
  const float* row(int64_t i) const { return x + i * stride; }
};

// The rows' sums of f(v), each row summed in float lanes, the rows in double.
// f(v) = v - shift, squared when `square`.
SISYPHUS_VECTOR_CLONES double channel_sum(Channel ch, float shift, bool square) {
  double total = 0;
  for (int64_t i = 0; i < ch.images; ++i) {
    const float* r = ch.row(i);
    float acc[kLanes] = {};
    int64_t j = 0;
    if (square) {
      for (; j + kLanes <= ch.hw; j += kLanes)
        for (int k = 0; k < kLanes; ++k) {
          const float d = r[j + k] - shift;
          acc[k] += d * d;
        }
    } else {
      for (; j + kLanes <= ch.hw; j += kLanes)
        for (int k = 0; k < kLanes; ++k) acc[k] += r[j + k] - shift;
    }
    float s = 0;
    for (int k = 0; k < kLanes; ++k) s += acc[k];
    for (; j < ch.hw; ++j) {
      const float d = r[j] - shift;
      s += square ? d * d : d;
    }
    total += s;
  }
  return total;
}

// y = max(0, x * scale + shift) over one channel; the mask of the backward
// pass is this expression's sign, computed the same way.
SISYPHUS_VECTOR_CLONES void channel_apply(Channel ch, float* y, float scale, float shift) {
  for (int64_t i = 0; i < ch.images; ++i) {
    const float* r = ch.row(i);
    float* o = y + i * ch.stride;
    for (int64_t j = 0; j < ch.hw; ++j) {
      const float z = r[j] * scale + shift;
      o[j] = z > 0 ? z : 0.0f;
    }
  }
}

// Over the values where ReLU passed (x * scale + shift > 0): the sum of the
// gradient g and of g * (x - mean).
SISYPHUS_VECTOR_CLONES void channel_grad_sums(Channel ch, const float* g, float scale, float shift,
                                              float mean, double* sum_g, double* sum_gx) {
  double tg = 0, tgx = 0;
  for (int64_t i = 0; i < ch.images; ++i) {
    const float* r = ch.row(i);
    const float* gr = g + i * ch.stride;
    float ag[kLanes] = {}, agx[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= ch.hw; j += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const float v = r[j + k], gv = gr[j + k];  // both loaded: a select, no branch
        const float gz = v * scale + shift > 0 ? gv : 0.0f;
        ag[k] += gz;
        agx[k] += gz * (v - mean);
      }
    float sg = 0, sgx = 0;
    for (int k = 0; k < kLanes; ++k) {
      sg += ag[k];
      sgx += agx[k];
    }
    for (; j < ch.hw; ++j) {
      const float v = r[j], gv = gr[j];
      const float gz = v * scale + shift > 0 ? gv : 0.0f;
      sg += gz;
      sgx += gz * (v - mean);
    }
    tg += sg;
    tgx += sgx;
  }
  *sum_g = tg;
  *sum_gx = tgx;
}

// dx = scale * (gz - b - (x - mean) * k), gz the gradient where ReLU passed
// (scale: BN's weight times 1/std, the forward's).
SISYPHUS_VECTOR_CLONES void channel_grad_input(Channel ch, const float* g, float* dx, float scale,
                                               float shift, float mean, float b, float k) {
  for (int64_t i = 0; i < ch.images; ++i) {
    const float* r = ch.row(i);
    const float* gr = g + i * ch.stride;
    float* o = dx + i * ch.stride;
    for (int64_t j = 0; j < ch.hw; ++j) {
      const float v = r[j], gv = gr[j];
      const float gz = v * scale + shift > 0 ? gv : 0.0f;
      o[j] = scale * (gz - b - (v - mean) * k);
    }
  }
}

Channel channel_of(const torch::Tensor& x, int64_t c) {
  const int64_t channels = x.size(1), hw = x.size(2) * x.size(3);
  return {x.data_ptr<float>() + c * hw, x.size(0), channels * hw, hw};
}

// A [C] tensor's values as doubles (an undefined one: `fill` each).
std::vector<double> values_of(const torch::Tensor& t, int64_t c, double fill) {
  if (!t.defined()) return std::vector<double>(static_cast<size_t>(c), fill);
  const torch::Tensor d = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + c);
}

torch::Tensor f64_tensor(const std::vector<double>& v) { return torch::tensor(v, torch::kFloat64); }

// BN's affine map folded with the normalisation: x * scale + shift with
// scale = w / sqrt(var + eps), shift = b - mean * scale (both modes).
struct Affine {
  float scale, shift;
};
Affine folded_affine(double w, double b, double mean, double invstd) {
  return {static_cast<float>(w * invstd), static_cast<float>(b - mean * w * invstd)};
}

// Training mode: the batch's mean and biased variance per channel, the
// running estimates updated as torch's (unbiased variance), the output and
// what the backward pass needs.
class BnReluFunction : public torch::autograd::Function<BnReluFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps) {
    const int64_t channels = x.size(1);
    const double count = static_cast<double>(x.numel() / channels);
    const std::vector<double> w = values_of(weight, channels, 1.0),
                              b = values_of(bias, channels, 0.0);
    std::vector<double> mean(static_cast<size_t>(channels)), invstd(mean), var(mean);
    std::vector<float> scale(mean.size()), shift(mean.size());  // folded_affine's, per channel
    torch::Tensor y = torch::empty_like(x);
    at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const auto k = static_cast<size_t>(c);
        const Channel ch = channel_of(x, c);
        mean[k] = channel_sum(ch, 0.0f, false) / count;
        var[k] = channel_sum(ch, static_cast<float>(mean[k]), true) / count;
        invstd[k] = 1.0 / std::sqrt(var[k] + eps);
        const Affine a = folded_affine(w[k], b[k], mean[k], invstd[k]);
        scale[k] = a.scale;
        shift[k] = a.shift;
        channel_apply(ch, y.data_ptr<float>() + c * ch.hw, a.scale, a.shift);
      }
    });
    {
      torch::NoGradGuard no_grad;
      const torch::Tensor m = f64_tensor(mean).to(running_mean.dtype());
      const torch::Tensor unbiased =
          (f64_tensor(var) * (count / std::max(count - 1, 1.0))).to(running_var.dtype());
      running_mean.mul_(1 - momentum).add_(m, momentum);
      running_var.mul_(1 - momentum).add_(unbiased, momentum);
    }
    ctx->save_for_backward({x});
    ctx->saved_data["mean"] = f64_tensor(mean);
    ctx->saved_data["invstd"] = f64_tensor(invstd);
    ctx->saved_data["scale"] = torch::tensor(scale);
    ctx->saved_data["shift"] = torch::tensor(shift);
    ctx->saved_data["affine"] = weight.defined();
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    const torch::Tensor g = grads[0].contiguous();
    const int64_t channels = x.size(1);
    const double count = static_cast<double>(x.numel() / channels);
    const std::vector<double> mean = values_of(ctx->saved_data["mean"].toTensor(), channels, 0);
    const std::vector<double> invstd = values_of(ctx->saved_data["invstd"].toTensor(), channels, 0);
    const torch::Tensor scale_t = ctx->saved_data["scale"].toTensor();
    const torch::Tensor shift_t = ctx->saved_data["shift"].toTensor();
    const float* scale = scale_t.data_ptr<float>();
    const float* shift = shift_t.data_ptr<float>();
    torch::Tensor dx = torch::empty_like(x);
    std::vector<double> dw(static_cast<size_t>(channels)), db(dw.size());
    at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const auto k = static_cast<size_t>(c);
        const Channel ch = channel_of(x, c);
        const float* gc = g.data_ptr<float>() + c * ch.hw;
        const auto mu = static_cast<float>(mean[k]);
        double sum_g = 0, sum_gx = 0;
        channel_grad_sums(ch, gc, scale[c], shift[c], mu, &sum_g, &sum_gx);
        const double s = invstd[k];
        db[k] = sum_g;
        dw[k] = sum_gx * s;
        channel_grad_input(ch, gc, dx.data_ptr<float>() + c * ch.hw, scale[c], shift[c], mu,
                           static_cast<float>(sum_g / count),
                           static_cast<float>(s * s * sum_gx / count));
      }
    });
    torch::Tensor grad_w, grad_b;
    if (ctx->saved_data["affine"].toBool()) {
      grad_w = f64_tensor(dw).to(torch::kFloat);
      grad_b = f64_tensor(db).to(torch::kFloat);
    }
    return {dx, grad_w, grad_b, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Evaluation mode: the running estimates, one pass.
torch::Tensor bn_relu_eval(BatchNormImpl& bn, const torch::Tensor& x, double eps) {
  const int64_t channels = x.size(1);
  const std::vector<double> w = values_of(bn.weight, channels, 1.0);
  const std::vector<double> b = values_of(bn.bias, channels, 0.0);
  const std::vector<double> rm = values_of(bn.running_mean, channels, 0.0);
  const std::vector<double> rv = values_of(bn.running_var, channels, 1.0);
  torch::Tensor y = torch::empty_like(x);
  at::parallel_for(0, channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const auto k = static_cast<size_t>(c);
      const Affine a = folded_affine(w[k], b[k], rm[k], 1.0 / std::sqrt(rv[k] + eps));
      const Channel ch = channel_of(x, c);
      channel_apply(ch, y.data_ptr<float>() + c * ch.hw, a.scale, a.shift);
    }
  });
  return y;
}

}  // namespace

bool bn_relu_fusable(const torch::Tensor& x, bool training) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat || x.dim() != 4 ||
      !x.is_contiguous() || x.numel() == 0)
    return false;
  if (training) return x.numel() / x.size(1) > 1;
  return !torch::GradMode::is_enabled();  // evaluation mode: no autograd here
}

torch::Tensor bn_relu(BatchNormImpl& bn, const torch::Tensor& x, double momentum, double eps) {
  if (!bn.is_training()) return bn_relu_eval(bn, x, eps);
  return BnReluFunction::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, momentum,
                               eps);
}

}  // namespace sisyphus::nn
