#include "nn/fold.h"

#include <torch/torch.h>

#include <map>

#include "core/error.h"
#include "nn/batchnorm.h"
#include "nn/channel_poly.h"
#include "nn/poly_math.h"
#include "nn/registry.h"

namespace sisyphus::nn {
namespace {

using TensorMap = std::map<std::string, torch::Tensor>;

TensorMap state_of(const torch::nn::Module& m) {
  TensorMap out;
  for (const auto& item : m.named_parameters()) out[item.key()] = item.value().detach();
  for (const auto& item : m.named_buffers()) out[item.key()] = item.value().detach();
  return out;
}

torch::Tensor f64(const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat64); }

// The BN of each pair moved into its layer: the folded layer's weight and bias.
void fold_norms(NetworkImpl& net, const TensorMap& source, TensorMap& target) {
  std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
  for (const auto& item : net.named_modules()) modules[item.key()] = item.value();
  for (const auto& [layer, norm] : net.norm_pairs()) {
    auto* bn = modules.count(norm) ? modules.at(norm)->as<BatchNormImpl>() : nullptr;
    SISYPHUS_CHECK(bn != nullptr && source.count(layer + ".weight"), ErrorKind::kModel,
                   "fold: " + norm + " is not a BN after layer " + layer);
    auto [scale, shift] = bn->inference_affine();
    const torch::Tensor w = f64(source.at(layer + ".weight"));
    std::vector<int64_t> shape(static_cast<size_t>(w.dim()), 1);
    shape[0] = w.size(0);
    target[layer + ".weight"] = w * scale.view(shape);
    torch::Tensor b =
        source.count(layer + ".bias") ? f64(source.at(layer + ".bias")) : torch::zeros_like(shift);
    target[layer + ".bias"] = scale * b + shift;
  }
}

}  // namespace

Network fold_network(NetworkImpl& net, NetShape shape, bool imagenet_stem,
                     const torch::Tensor& probe) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  const std::vector<torch::Tensor> outs = net.forward_points(probe);
  net.train(was_training);

  shape.folded = true;
  Network folded = make_network(net.arch(), shape, imagenet_stem);
  folded->eval();
  const TensorMap source = state_of(net);
  TensorMap target;
  fold_norms(net, source, target);

  // Each slot's inference map as one polynomial per channel.
  const auto& points = net.points();
  std::vector<torch::Tensor> tables(points.size());
  size_t polynomial = 0, slots = 0;
  int64_t width = 0;  // degree + 1
  for (size_t l = 0; l < points.size(); ++l) {
    if (points[l].slot.is_empty()) continue;
    ++slots;
    tables[l] = points[l].slot->get()->inference_polynomial(outs.at(l).size(1));
    if (!tables[l].defined()) continue;
    ++polynomial;
    width = std::max(width, tables[l].size(1));
  }
  SISYPHUS_CHECK(polynomial == 0 || polynomial == slots, ErrorKind::kModel,
                 "fold: the network mixes ReLU and polynomial activations");
  if (polynomial > 0) {
    for (size_t l = 0; l < points.size(); ++l) {
      if (points[l].slot.is_empty()) continue;
      const torch::Tensor table = pad_degree(tables[l], width);
      auto fn = std::make_shared<ChannelPolynomial>(table.size(0), static_cast<int>(width - 1),
                                                    std::nullopt);
      fn->coeffs.copy_(table.to(torch::kFloat32));
      ActivationSlot slot = folded->points()[l].slot;
      slot->set(fn);
    }
  }

  // Every other tensor of the folded network: folded, or copied from the source.
  std::vector<std::string> slot_prefixes;  // "<slot>.fn.": the tables set above
  for (const auto& p : folded->points())
    if (!p.slot.is_empty()) slot_prefixes.push_back(p.name + ".fn.");
  auto in_slot = [&](const std::string& name) {
    for (const auto& prefix : slot_prefixes)
      if (name.rfind(prefix, 0) == 0) return true;
    return false;
  };
  for (auto& item : folded->named_parameters()) {
    const std::string& name = item.key();
    if (in_slot(name)) continue;
    auto t = target.find(name);
    auto s = source.find(name);
    const torch::Tensor& from = t != target.end()   ? t->second
                                : s != source.end() ? s->second
                                                    : torch::Tensor();
    SISYPHUS_CHECK(from.defined() && from.sizes() == item.value().sizes(), ErrorKind::kModel,
                   "fold: nothing in " + net.arch() + " gives the folded tensor " + name);
    item.value().copy_(from.to(torch::kFloat32));
  }
  for (auto& item : folded->named_buffers()) {
    auto s = source.find(item.key());
    SISYPHUS_CHECK(s != source.end() && s->second.sizes() == item.value().sizes(),
                   ErrorKind::kModel, "fold: no source for the folded buffer " + item.key());
    item.value().copy_(s->second);
  }
  return folded;
}

}  // namespace sisyphus::nn
