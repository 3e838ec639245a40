#include "nn/he_cost.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "nn/act_spec.h"
#include "nn/batchnorm.h"

namespace sisyphus::nn {
namespace {

int64_t ceil_log2(int64_t k) {
  int64_t d = 0;
  while ((int64_t{1} << d) < k) ++d;
  return d;
}

// One channel's coefficients c_0..c_{K-1}.
OpCount channel_cost(const double* c, int64_t k) {
  OpCount o;
  int64_t top = 0;
  for (int64_t d = 1; d < k; ++d) {
    if (c[d] == 0.0) continue;
    top = d;
    const bool scaled = c[d] != 1.0;
    o.pt_ct += scaled ? 1 : 0;
    o.depth = std::max(o.depth, ceil_log2(d) + (scaled ? 1 : 0));
  }
  o.ct_ct = std::max<int64_t>(top - 1, 0);
  return o;
}

OpCount times(OpCount o, int64_t n) {
  o.ct_ct *= n;
  o.pt_ct *= n;
  return o;
}

void add(OpCount& to, const OpCount& o, bool on_path) {
  to.ct_ct += o.ct_ct;
  to.pt_ct += o.pt_ct;
  if (on_path) to.depth += o.depth;
}

}  // namespace

OpCount polynomial_cost(const torch::Tensor& table, int64_t spatial) {
  const torch::Tensor t = table.to(torch::kCPU, torch::kFloat64).contiguous();
  OpCount total;
  for (int64_t c = 0; c < t.size(0); ++c) {
    OpCount o = channel_cost(t.data_ptr<double>() + c * t.size(1), t.size(1));
    total.depth = std::max(total.depth, o.depth);
    total.ct_ct += o.ct_ct * spatial;
    total.pt_ct += o.pt_ct * spatial;
  }
  return total;
}

OpCount relu_composite_cost(const std::vector<int>& sign_degrees) {
  OpCount o;
  for (int d : sign_degrees) {
    SISYPHUS_CHECK(d >= 1 && d % 2 == 1, ErrorKind::kConfig,
                   "a sign approximation's degrees must be odd, not " + std::to_string(d));
    std::vector<double> c(static_cast<size_t>(d) + 1, 0.0);
    for (int k = 1; k <= d; k += 2) c[static_cast<size_t>(k)] = 0.5;  // non-trivial odd terms
    OpCount p = channel_cost(c.data(), d + 1);
    o.depth += p.depth;
    o.ct_ct += p.ct_ct;
    o.pt_ct += p.pt_ct;
  }
  o.depth += 1;  // x * sign(x)
  o.ct_ct += 1;
  return o;
}

CostReport he_cost(NetworkImpl& net, const torch::Tensor& probe,
                   const std::vector<int>& sign_degrees) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  const std::vector<torch::Tensor> outs = net.forward_points(probe);
  net.train(was_training);
  const OpCount relu = relu_composite_cost(sign_degrees);

  CostReport report;
  report.activation = activation_spec(net);
  const auto modules = net.named_modules();
  const auto& points = net.points();
  for (size_t l = 0; l < points.size(); ++l) {
    const ImitationPoint& p = points[l];
    const torch::Tensor& out = outs.at(l);
    const int64_t channels = out.size(1), elements = out.numel() / out.size(0);
    for (const std::string& owner : p.owners) {
      if (owner == p.name && !p.slot.is_empty()) continue;  // the slot, below
      const bool shortcut = owner.size() >= 11 && owner.substr(owner.size() - 11) == ".downsample";
      for (const auto& item : modules) {
        const std::string& path = item.key();
        if (path != owner && path.rfind(owner + ".", 0) != 0) continue;
        LayerCost lc{p.name, path, "", elements, {}, shortcut};
        if (auto* conv = item.value()->as<torch::nn::Conv2dImpl>()) {
          const auto& o = conv->options;
          SISYPHUS_CHECK(o.out_channels() == channels, ErrorKind::kModel,
                         "cost: " + path + " does not produce point " + p.name + "'s output");
          const int64_t fan_in =
              o.in_channels() / o.groups() * conv->weight.size(2) * conv->weight.size(3);
          lc.kind = "conv";
          lc.cost = {1, 0, elements * fan_in};
        } else if (auto* lin = item.value()->as<torch::nn::LinearImpl>()) {
          lc.kind = "linear";
          lc.cost = {1, 0, lin->weight.numel()};
        } else if (item.value()->as<BatchNormImpl>()) {
          lc.kind = "bn";
          lc.cost = {1, 0, elements};
        } else {
          continue;  // containers, identities (folded BNs), pooling
        }
        report.layers.push_back(lc);
        add(report.total, lc.cost, !shortcut);
        add(report.with_relu, lc.cost, !shortcut);
      }
    }
    if (p.slot.is_empty()) continue;
    LayerCost lc{p.name, p.name, "activation", elements, {}, false};
    const torch::Tensor table = p.slot->get()->inference_polynomial(channels);
    if (table.defined()) {
      lc.cost = polynomial_cost(table, elements / channels);
    } else {
      lc.kind = "relu";
      lc.cost = times(relu, elements);
    }
    report.layers.push_back(lc);
    add(report.total, lc.cost, true);
    add(report.with_relu, times(relu, elements), true);
  }
  return report;
}

}  // namespace sisyphus::nn
