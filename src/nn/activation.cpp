#include "nn/activation.h"

#include <torch/torch.h>

namespace sisyphus::nn {

torch::Tensor as_fp32(const torch::Tensor& x) {
  const auto t = x.scalar_type();
  return t == torch::kBFloat16 || t == torch::kHalf ? x.to(torch::kFloat32) : x;
}

torch::Tensor range_penalty(const torch::Tensor& x, const RangeControl& r) {
  if (x.numel() == 0) return x.sum() * 0.0;  // an empty batch: a term that still depends on x
  if (r.form == RangeControl::Form::power) return (x / r.bound).abs().pow(r.power).mean();
  const torch::Tensor peak = std::get<0>(x.abs().flatten(1).max(1));  // per image
  return (peak / r.bound - 1).clamp_min(0).pow(2).mean();
}

torch::Tensor Relu::forward(const torch::Tensor& x) { return torch::relu(x); }

ActivationSlotImpl::ActivationSlotImpl() : fn_(std::make_shared<Relu>()) {
  register_module("fn", fn_);
}

torch::Tensor ActivationSlotImpl::forward(const torch::Tensor& input) {
  torch::Tensor x = input;
  penalty_ = torch::Tensor();  // only this forward's
  if (range_.on() && is_training()) {
    const torch::Tensor x32 = as_fp32(input);
    if (range_.penalty) penalty_ = range_penalty(x32, range_);
    if (x32.numel() > 0) {
      torch::NoGradGuard no_grad;
      torch::Tensor m = x32.detach().abs().max();
      max_abs_ = max_abs_.defined() ? torch::maximum(max_abs_, m) : m;
    }
    if (range_.clip) {
      const double c = range_.clip_bound > 0 ? range_.clip_bound : range_.bound;
      x = input.clamp(-c, c);
    }
  }
  torch::Tensor y;
  if (blend_ == 0) {
    y = torch::relu(x);
  } else if (blend_ > 0 && blend_ < 1) {
    y = (1 - blend_) * torch::relu(as_fp32(x)) + blend_ * fn_->forward(x);
  } else {
    y = fn_->forward(x);
  }
  if (capture_) captured_ = y;
  if (observer_) observer_(y);
  if (stop_after_) throw ForwardStopped{};
  return y;
}

bool ActivationSlotImpl::plain_relu() const {
  const bool relu = blend_ == 0 || (dynamic_cast<const Relu*>(fn_.get()) != nullptr &&
                                    !(blend_ > 0 && blend_ < 1));
  return relu && !range_.on() && !capture_ && !stop_after_ && !observer_;
}

void ActivationSlotImpl::set(std::shared_ptr<Activation> fn) {
  fn_ = replace_module("fn", std::move(fn));
}

void ActivationSlotImpl::set_capture(bool on) {
  capture_ = on;
  if (!on) captured_ = torch::Tensor();
}

torch::Tensor ActivationSlotImpl::take_penalty() {
  torch::Tensor out = penalty_;
  penalty_ = torch::Tensor();
  return out;
}

double ActivationSlotImpl::max_abs_input() const {
  return max_abs_.defined() ? max_abs_.item<double>() : -1.0;
}

torch::Tensor ActivationSlotImpl::take_captured() {
  torch::Tensor out = captured_;
  captured_ = torch::Tensor();
  return out;
}

}  // namespace sisyphus::nn
