#include "train/sgd.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace sisyphus::train {

Sgd::Sgd(std::vector<std::pair<std::string, torch::Tensor>> params, OptimConfig cfg)
    : params_(std::move(params)), cfg_(cfg) {}

void Sgd::clip_gradients() {
  std::vector<torch::Tensor> grads;
  for (auto& [name, p] : params_)
    if (p.requires_grad() && p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return;
  std::vector<torch::Tensor> norms;
  for (const auto& g : grads) norms.push_back(g.norm(2).to(torch::kFloat32));
  // As clip_grad_norm_: scale by max / (norm + 1e-6), never up; no host sync.
  const torch::Tensor scale =
      (cfg_.grad_clip / (torch::stack(norms).norm(2) + 1e-6)).clamp_max(1.0);
  for (auto& g : grads) g.mul_(scale.to(g.scalar_type()));
}

void Sgd::step(double lr) {
  torch::NoGradGuard no_grad;
  if (cfg_.grad_clip > 0) clip_gradients();
  for (auto& [name, p] : params_) {
    if (!p.requires_grad() || !p.grad().defined()) continue;
    torch::Tensor d = p.grad();
    if (cfg_.weight_decay != 0) d = d.add(p, cfg_.weight_decay);
    if (cfg_.momentum != 0) {
      auto it = momentum_.find(name);
      if (it == momentum_.end()) {
        it = momentum_.emplace(name, d.clone().detach()).first;
      } else {
        it->second.mul_(cfg_.momentum).add_(d);
      }
      d = cfg_.nesterov ? d.add(it->second, cfg_.momentum) : it->second;
    }
    p.add_(d, -lr);
  }
}

void Sgd::zero_grad() {
  for (auto& [name, p] : params_) p.mutable_grad() = torch::Tensor();
}

std::vector<std::pair<std::string, torch::Tensor>> Sgd::state() const {
  return {momentum_.begin(), momentum_.end()};
}

void Sgd::load_state(const std::vector<std::pair<std::string, torch::Tensor>>& state,
                     const std::string& source) {
  momentum_.clear();
  for (const auto& [name, buf] : state) {
    const torch::Tensor* param = nullptr;
    for (const auto& [pn, p] : params_)
      if (pn == name) param = &p;
    if (!param || param->sizes() != buf.sizes()) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + source + "': momentum buffer '" + name +
                                                "' matches no parameter of this network");
    }
    momentum_[name] = buf.clone().to(param->device());
  }
}

double cosine_lr(const OptimConfig& cfg, int64_t epoch, int64_t epochs) {
  return cfg.lr_min +
         (cfg.lr - cfg.lr_min) *
             (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(epochs))) /
             2.0;
}

}  // namespace sisyphus::train
