// Activation slots: the replaceable activation after every imitation point.
//
// Every network puts an ActivationSlot where the paper's networks have a ReLU.
// The slot owns one Activation module (registered as child "fn", so any
// buffers it has, e.g. AMM's running min/max, appear in the state_dict as
// "<slot>.fn.<buffer>") and can record its output for layer-wise imitation.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
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
  // What the activation computes in evaluation mode, as a polynomial of its
  // input per channel: [channels, degree + 1] float64, lowest degree first
  // (nn/poly_math.h); undefined when it is not a polynomial (ReLU). `fold`
  // turns every slot into this. Error(kConfig) when it depends on the batch.
  virtual torch::Tensor inference_polynomial(int64_t /*channels*/) { return {}; }
};

class Relu : public Activation {
 public:
  torch::Tensor forward(const torch::Tensor& x) override;
  std::string describe() const override { return "relu"; }
};

// Thrown by a slot set to stop the forward pass after it (see above).
struct ForwardStopped {};

// PILLAR-style range control of a slot's input x in training mode
// (docs/beyond.md): the penalty mean(|x / bound|^power) that the objective
// adds (times its lambda, summed over the slots), and clipping x to
// [-bound, bound] before the activation. Inference is never clipped (HE
// cannot): the penalty has to keep the inputs in range on its own.
struct RangeControl {
  // power: mean over every element of |x/r|^p (PILLAR's). peak: mean over the
  // images of max(0, m/r - 1)^2, m the image's largest |x| at this slot: only
  // the images that cross r pay, quadratically, however large the network's
  // untrained inputs are.
  enum class Form { power, peak };
  double bound = 0;   // r; 0: off
  double power = 10;  // p (power form)
  Form form = Form::power;
  bool penalty = false;
  bool clip = false;
  double clip_bound = 0;  // clip's bound when it differs from r; 0: r
  bool on() const { return bound > 0 && (penalty || clip); }
};

// The penalty term of one slot's input x ([N, ...], fp32) under r's form.
torch::Tensor range_penalty(const torch::Tensor& x, const RangeControl& r);

class ActivationSlotImpl : public torch::nn::Module {
 public:
  ActivationSlotImpl();  // starts as ReLU
  torch::Tensor forward(const torch::Tensor& x);

  void set(std::shared_ptr<Activation> fn);
  std::shared_ptr<Activation> get() const { return fn_; }

  // While capture is on, forward() keeps its output (graph included).
  void set_capture(bool on);
  torch::Tensor take_captured();
  // While set, forward() hands its output to `see` as soon as it is computed
  // (and keeps nothing): statistics taken while the values are still in the
  // cache. Empty: off.
  void set_observer(std::function<void(const torch::Tensor&)> see) { observer_ = std::move(see); }
  // While on, forward() ends the network's forward pass after capturing
  // (throws ForwardStopped, which NetworkImpl::forward_points catches).
  void set_stop_after(bool on) { stop_after_ = on; }

  void set_range(const RangeControl& r) { range_ = r; }
  // Progressive replacement (docs/beyond.md): with t in [0, 1] the slot
  // computes (1 - t) ReLU(x) + t fn(x) (t = 0: ReLU alone, fn not run);
  // t < 0 (the default) or t = 1: fn alone. Set by the training driver from
  // its schedule; not part of the state (a resumed run sets it again).
  void set_blend(double t) { blend_ = t; }
  // Whether forward(x) is relu(x) and nothing else: a ReLU, no capture,
  // observer, stop, range control or partial blend (what a fused BN + ReLU
  // may stand in for: nn/bn_relu.h).
  bool plain_relu() const;
  double blend() const { return blend_; }
  // The last training forward's mean(|x/r|^p) (graph included); undefined
  // when the penalty is off or the slot has not run in training mode.
  torch::Tensor take_penalty();
  // The largest |x| at the input since the last reset (training mode, while
  // range control is on); -1 when none was seen.
  double max_abs_input() const;
  void reset_max_abs_input() { max_abs_ = torch::Tensor(); }

 private:
  std::shared_ptr<Activation> fn_;
  bool capture_ = false;
  bool stop_after_ = false;
  torch::Tensor captured_;
  std::function<void(const torch::Tensor&)> observer_;
  RangeControl range_;
  double blend_ = -1;
  torch::Tensor penalty_, max_abs_;
};
TORCH_MODULE(ActivationSlot);

}  // namespace sisyphus::nn
