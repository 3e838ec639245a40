// The base of every sisyphus network: a torch Module with an ordered list of
// imitation points (docs/quail.md, QuaIL).
//
// Point l is the output after the l-th activation slot; the last point is the
// logits. Each point owns the modules that compute it from the previous point
// (its conv/linear, BN and, in residual blocks, the shortcut) and its slot
// (whose activation may hold AMM buffers): QuaIL's mimic stage l trains
// exactly those. Parameter and buffer names follow
// torchvision's state_dict names where torchvision has the same structure
// (ResNets: "layer1.0.conv1.weight", "fc.weight"); the plain stacks use
// torchvision's "features.<i>" / "classifier.<i>" indexing.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/activation.h"

namespace sisyphus::nn {

// A conv/linear layer and the BN that normalises its output, by module path
// ("features.0", "features.1"): `fold` moves the BN into the layer.
struct NormPair {
  std::string layer, norm;
};

struct ImitationPoint {
  std::string name;                 // "features.2", "layer1.0.act2", "fc" (logits)
  std::vector<std::string> owners;  // module paths whose parameters/buffers belong to it
  ActivationSlot slot{nullptr};     // empty for the logits point
};

class NetworkImpl : public torch::nn::Module {
 public:
  explicit NetworkImpl(std::string arch) : arch_(std::move(arch)) {}
  virtual torch::Tensor forward(torch::Tensor x) = 0;

  const std::string& arch() const { return arch_; }
  const std::vector<ImitationPoint>& points() const { return points_; }

  // Outputs at every point, in order; the last is the logits. With `last`
  // before the final point, the forward pass stops after point `last` and
  // the outputs of points 0..last are returned (nothing later is computed:
  // a frozen teacher's target at point l costs only the layers up to l).
  std::vector<torch::Tensor> forward_points(torch::Tensor x, size_t last = SIZE_MAX);
  // The forward pass that hands every point's output to see(k, output) as
  // it is computed, k its index among forward_points' outputs (the last, the
  // logits, when the pass ends), and keeps none of them: what
  // forward_points gives, without holding every point's batch until the end.
  // Returns the logits.
  using PointObserver = std::function<void(size_t, const torch::Tensor&)>;
  torch::Tensor forward_observed(torch::Tensor x, const PointObserver& see);
  // state_dict names (parameters and buffers) that belong to point l.
  std::vector<std::string> point_tensor_names(size_t l) const;
  int64_t parameter_count() const;
  const std::vector<NormPair>& norm_pairs() const { return norm_pairs_; }

  // QuaIL's freezing: the points with trainable[l] false keep their
  // parameters (requires_grad false). As in the reference code, their BN and
  // AMM layers still run in training mode while the network trains: they
  // normalise with the current batch's statistics and keep updating their
  // running estimates; freezing only stops gradients. With
  // set_frozen_eval(true) the frozen points' modules stay in evaluation mode
  // instead (running estimates used and kept bit for bit: `--frozen-eval`).
  // Tensors that belong to no point follow trainable.empty(). An empty
  // vector makes everything trainable again.
  void set_trainable_points(std::vector<bool> trainable);
  void set_frozen_eval(bool on);
  bool frozen_eval() const { return frozen_eval_; }
  const std::vector<bool>& trainable_points() const { return trainable_; }
  // Names of the tensors of the trainable points (all when none is frozen).
  std::vector<std::string> trainable_tensor_names() const;
  void train(bool on = true) override;

 protected:
  void add_point(std::string name, std::vector<std::string> owners, ActivationSlot slot);
  void add_norm_pair(std::string layer, std::string norm) {
    norm_pairs_.push_back({std::move(layer), std::move(norm)});
  }

 private:
  std::string arch_;
  std::vector<ImitationPoint> points_;
  std::vector<NormPair> norm_pairs_;
  std::vector<bool> trainable_;  // empty: all
  bool frozen_eval_ = false;     // frozen points in evaluation mode while training
};

using Network = std::shared_ptr<NetworkImpl>;

}  // namespace sisyphus::nn
