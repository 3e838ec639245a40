// Activation slots: the replaceable activation after every imitation point.
//
// Every network puts an ActivationSlot where the paper's networks have a ReLU.
// The slot owns one Activation module (registered as child "fn", so any
// buffers it has, e.g. AMM's running min/max, appear in the state_dict as
// "<slot>.fn.<buffer>") and can record its output for layer-wise imitation.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>

namespace sisyphus::nn {

// `x` widened to float32 when it is bf16/fp16 (itself otherwise, float64
// included): polynomial activations and AMM compute in at least fp32, also
// under bf16 autocast (squaring in bf16 escapes sooner).
torch::Tensor as_fp32(const torch::Tensor& x);

// An elementwise (or per-channel) activation that can fill a slot.
class Activation : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  virtual std::string describe() const = 0;  // e.g. "relu", "quad"
};

class Relu : public Activation {
 public:
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "relu"; }
};

// Thrown by a slot set to stop the forward pass after it (see above).
struct ForwardStopped {};

class ActivationSlotImpl : public torch::nn::Module {
 public:
  ActivationSlotImpl();  // starts as ReLU
  torch::Tensor forward(const torch::Tensor& x);

  void set(std::shared_ptr<Activation> fn);
  std::shared_ptr<Activation> get() const { return fn_; }

  // While capture is on, forward() keeps its output (graph included).
  void set_capture(bool on);
  torch::Tensor take_captured();
  // While on, forward() ends the network's forward pass after capturing
  // (throws ForwardStopped, which NetworkImpl::forward_points catches).
  void set_stop_after(bool on) { stop_after_ = on; }

 private:
  std::shared_ptr<Activation> fn_;
  bool capture_ = false;
  bool stop_after_ = false;
  torch::Tensor captured_;
};
TORCH_MODULE(ActivationSlot);

}  // namespace sisyphus::nn
