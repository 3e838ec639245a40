#include "nn/network.h"

#include <torch/torch.h>

#include <set>

#include "core/error.h"

namespace sisyphus::nn {

void NetworkImpl::add_point(std::string name, std::vector<std::string> owners,
                            ActivationSlot slot) {
  if (!slot.is_empty()) owners.push_back(name);  // the slot's path is the point's name
  points_.push_back(ImitationPoint{std::move(name), std::move(owners), std::move(slot)});
}

namespace {

// Calls `undo` for every slot when the scope ends, however it ends: the
// per-slot state a forward pass was given (capture, stop, observer) never
// outlives that pass.
class SlotStateReset {
 public:
  SlotStateReset(std::vector<ImitationPoint>& points, void (*undo)(ActivationSlotImpl&))
      : points_(points), undo_(undo) {}
  ~SlotStateReset() {
    for (auto& p : points_)
      if (!p.slot.is_empty()) undo_(*p.slot);
  }
  SlotStateReset(const SlotStateReset&) = delete;
  SlotStateReset& operator=(const SlotStateReset&) = delete;

 private:
  std::vector<ImitationPoint>& points_;
  void (*undo_)(ActivationSlotImpl&);
};

}  // namespace

std::vector<torch::Tensor> NetworkImpl::forward_points(torch::Tensor x, size_t last) {
  const bool truncated = last < points_.size() - 1;  // the final point (logits) has no slot
  const SlotStateReset reset(points_, [](ActivationSlotImpl& s) {
    s.set_capture(false);
    s.set_stop_after(false);
  });
  for (auto& p : points_)
    if (!p.slot.is_empty()) p.slot->set_capture(true);
  if (truncated) points_.at(last).slot->set_stop_after(true);
  torch::Tensor logits;
  try {
    logits = forward(x);
  } catch (const ForwardStopped&) {  // point `last` reached: the rest is not computed
  }
  std::vector<torch::Tensor> outs;
  for (size_t l = 0; l < points_.size() && l <= last; ++l) {
    if (points_[l].slot.is_empty()) continue;
    outs.push_back(points_[l].slot->take_captured());
  }
  if (!truncated) outs.push_back(logits);
  return outs;
}

torch::Tensor NetworkImpl::forward_observed(torch::Tensor x, const PointObserver& see) {
  size_t k = 0;  // the index among forward_points' outputs: slots in order, then the logits
  {
    const SlotStateReset reset(points_, [](ActivationSlotImpl& s) { s.set_observer(nullptr); });
    for (auto& p : points_)
      if (!p.slot.is_empty()) {
        const size_t index = k++;
        p.slot->set_observer([&see, index](const torch::Tensor& y) { see(index, y); });
      }
    x = forward(x);
  }
  see(k, x);
  return x;
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

void NetworkImpl::set_trainable_points(std::vector<bool> trainable) {
  SISYPHUS_CHECK(trainable.empty() || trainable.size() == points_.size(), ErrorKind::kModel,
                 "set_trainable_points: " + std::to_string(trainable.size()) + " flags for " +
                     std::to_string(points_.size()) + " points");
  trainable_ = std::move(trainable);
  std::vector<std::string> names = trainable_tensor_names();
  std::set<std::string> keep(names.begin(), names.end());
  for (auto& item : named_parameters()) item.value().set_requires_grad(keep.count(item.key()) > 0);
  train(is_training());
}

std::vector<std::string> NetworkImpl::trainable_tensor_names() const {
  std::vector<std::string> names;
  if (trainable_.empty()) {
    for (const auto& item : named_parameters()) names.push_back(item.key());
    for (const auto& item : named_buffers()) names.push_back(item.key());
    return names;
  }
  for (size_t l = 0; l < points_.size(); ++l) {
    if (!trainable_[l]) continue;
    for (auto& n : point_tensor_names(l)) names.push_back(std::move(n));
  }
  return names;
}

void NetworkImpl::set_frozen_eval(bool on) {
  frozen_eval_ = on;
  train(is_training());
}

void NetworkImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (!on || trainable_.empty() || !frozen_eval_) return;
  std::set<std::string> frozen;
  for (size_t l = 0; l < points_.size(); ++l)
    if (!trainable_[l]) frozen.insert(points_[l].owners.begin(), points_[l].owners.end());
  for (auto& item : named_modules())
    if (frozen.count(item.key())) item.value()->eval();
}

int64_t NetworkImpl::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

}  // namespace sisyphus::nn
