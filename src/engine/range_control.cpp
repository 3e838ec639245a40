#include "engine/range_control.h"

#include <torch/torch.h>

#include <cstdio>
#include <tuple>

namespace sisyphus::train {

void set_range_control(nn::NetworkImpl& net, const RangeConfig& cfg) {
  nn::RangeControl r;
  r.bound = cfg.bound;
  r.power = cfg.power;
  r.form = cfg.form == "peak" ? nn::RangeControl::Form::peak : nn::RangeControl::Form::power;
  r.penalty = cfg.penalty > 0;
  r.clip = cfg.clip;
  r.clip_bound = cfg.clip_bound;
  for (const auto& p : net.points()) {
    nn::ActivationSlot slot = p.slot;  // a handle to the network's slot
    if (!slot.is_empty()) slot->set_range(r);
  }
}

std::string range_report(nn::NetworkImpl& net, const RangeConfig& cfg, dist::Communicator& comm) {
  if (!(cfg.bound > 0 && (cfg.penalty > 0 || cfg.clip))) return "";
  std::vector<double> seen;
  for (const auto& p : net.points()) {
    nn::ActivationSlot slot = p.slot;
    if (slot.is_empty()) continue;
    seen.push_back(slot->max_abs_input());
    slot->reset_max_abs_input();
  }
  // all_gather takes host tensors on every backend (as verify_ranks uses it)
  torch::Tensor t = std::get<0>(
      comm.all_gather(torch::tensor(seen, torch::kFloat64)).reshape({comm.size(), -1}).max(0));
  char bound[32];
  std::snprintf(bound, sizeof(bound), "%g", cfg.bound);
  std::string line =
      std::string("range: max |x| at the activation inputs this epoch (bound ") + bound + "):";
  size_t i = 0;
  for (const auto& p : net.points()) {
    if (p.slot.is_empty()) continue;
    char buf[96];
    std::snprintf(buf, sizeof(buf), " %s %.3g", p.name.c_str(),
                  t[static_cast<int64_t>(i++)].item<double>());
    line += buf;
  }
  return line;
}

}  // namespace sisyphus::train
