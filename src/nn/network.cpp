#include "nn/network.h"

#include <torch/torch.h>

namespace sisyphus::nn {

void NetworkImpl::add_point(std::string name, std::vector<std::string> owners,
                            ActivationSlot slot) {
  points_.push_back(ImitationPoint{std::move(name), std::move(owners), std::move(slot)});
}

std::vector<torch::Tensor> NetworkImpl::forward_points(torch::Tensor x) {
  for (auto& p : points_)
    if (!p.slot.is_empty()) p.slot->set_capture(true);
  torch::Tensor logits;
  try {
    logits = forward(x);
  } catch (...) {
    for (auto& p : points_)
      if (!p.slot.is_empty()) p.slot->set_capture(false);
    throw;
  }
  std::vector<torch::Tensor> outs;
  for (auto& p : points_) {
    if (p.slot.is_empty()) continue;
    outs.push_back(p.slot->take_captured());
    p.slot->set_capture(false);
  }
  outs.push_back(logits);
  return outs;
}

std::vector<std::string> NetworkImpl::point_tensor_names(size_t l) const {
  std::vector<std::string> names;
  auto owned = [&](const std::string& name) {
    for (const auto& o : points_.at(l).owners)
      if (name.rfind(o + ".", 0) == 0) return true;
    return false;
  };
  for (const auto& item : named_parameters())
    if (owned(item.key())) names.push_back(item.key());
  for (const auto& item : named_buffers())
    if (owned(item.key())) names.push_back(item.key());
  return names;
}

int64_t NetworkImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace sisyphus::nn
