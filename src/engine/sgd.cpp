#include "engine/sgd.h"

#include <torch/torch.h>

#include <cmath>

#include "core/error.h"

namespace sisyphus::train {

Sgd::Sgd(std::vector<std::pair<std::string, torch::Tensor>> params, OptimConfig cfg)
    : params_(std::move(params)), cfg_(cfg) {}

void Sgd::clip_gradients(const std::vector<torch::Tensor>& grads) {
  if (grads.empty()) return;
  std::vector<torch::Tensor> norms = torch::_foreach_norm(grads, 2);
  const auto wide =
      grads.front().scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  for (auto& n : norms) n = n.to(wide);
  // As clip_grad_norm_: scale by max / (norm + 1e-6), never up; no host sync.
  const torch::Tensor scale =
      (cfg_.grad_clip / (torch::stack(norms).norm(2) + 1e-6)).clamp_max(1.0);
  torch::_foreach_mul_(grads, scale.to(grads.front().scalar_type()));
}

void Sgd::step(double lr) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> params, grads;
  std::vector<const std::string*> names;
  for (auto& [name, p] : params_) {
    if (!p.requires_grad() || !p.grad().defined()) continue;
    params.push_back(p);
    grads.push_back(p.grad());
    names.push_back(&name);
  }
  if (params.empty()) return;
  if (cfg_.grad_clip > 0) clip_gradients(grads);
  // d = g + wd * p
  std::vector<torch::Tensor> d =
      cfg_.weight_decay != 0 ? torch::_foreach_add(grads, params, cfg_.weight_decay) : grads;
  if (cfg_.momentum != 0) {
    // buf = d on a parameter's first step, else buf = m * buf + d
    std::vector<torch::Tensor> bufs, old_bufs, old_d;
    for (size_t i = 0; i < params.size(); ++i) {
      auto it = momentum_.find(*names[i]);
      if (it == momentum_.end()) {
        it = momentum_.emplace(*names[i], d[i].clone().detach()).first;
      } else {
        old_bufs.push_back(it->second);
        old_d.push_back(d[i]);
      }
      bufs.push_back(it->second);
    }
    if (!old_bufs.empty()) {
      torch::_foreach_mul_(old_bufs, cfg_.momentum);
      torch::_foreach_add_(old_bufs, old_d);
    }
    // Nesterov: d = d + m * buf; else d = buf
    d = cfg_.nesterov ? torch::_foreach_add(d, bufs, cfg_.momentum) : bufs;
  }
  torch::_foreach_add_(params, d, -lr);  // p = p - lr * d
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
