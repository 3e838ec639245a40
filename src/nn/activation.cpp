#include "nn/activation.h"

#include <torch/torch.h>

namespace sisyphus::nn {

torch::Tensor as_fp32(const torch::Tensor& x) {
  const auto t = x.scalar_type();
  return t == torch::kBFloat16 || t == torch::kHalf ? x.to(torch::kFloat32) : x;
}

torch::Tensor Relu::forward(const torch::Tensor& x) { return torch::relu(x); }

ActivationSlotImpl::ActivationSlotImpl() : fn_(std::make_shared<Relu>()) {
  register_module("fn", fn_);
}

torch::Tensor ActivationSlotImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = fn_->forward(x);
  if (capture_) captured_ = y;
  if (stop_after_) throw ForwardStopped{};
  return y;
}

void ActivationSlotImpl::set(std::shared_ptr<Activation> fn) {
  fn_ = replace_module("fn", std::move(fn));
}

void ActivationSlotImpl::set_capture(bool on) {
  capture_ = on;
  if (!on) captured_ = torch::Tensor();
}

torch::Tensor ActivationSlotImpl::take_captured() {
  torch::Tensor out = captured_;
  captured_ = torch::Tensor();
  return out;
}

}  // namespace sisyphus::nn
