// The range penalty and clipping of activation inputs (nn::RangeControl,
// docs/beyond.md) as a run sets them up, and the per-layer max |x| they
// leave, logged after every epoch.
#pragma once

#include <string>

#include "dist/communicator.h"
#include "nn/network.h"
#include "settings/config.h"

namespace sisyphus::train {

// Every slot of `net` gets cfg's bound, power, penalty (lambda > 0) and clipping.
void set_range_control(nn::NetworkImpl& net, const RangeConfig& cfg);
// "range: max |x| at the activation inputs (training, all ranks): <point> <v>, ..."
// over what the slots saw since the last call, which resets them. Every rank
// must call it (one all-reduce). Empty when range control is off.
std::string range_report(nn::NetworkImpl& net, const RangeConfig& cfg, dist::Communicator& comm);

}  // namespace sisyphus::train
