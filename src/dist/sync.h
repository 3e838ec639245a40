// Keeping ranks consistent: identical start state, identical buffers after
// every step, identical configuration.
#pragma once

#include <torch/nn/module.h>

#include <functional>
#include <string>

#include "dist/communicator.h"

namespace sisyphus::dist {

// Parameters and buffers of rank 0 overwrite everyone else's (training start
// and resume), as DDP does.
void broadcast_state(Communicator& comm, torch::nn::Module& module);

// BatchNorm statistics policy: after every step the floating-point buffers
// (running_mean, running_var) become their mean over the ranks weighted by
// each rank's batch size this step (one fused all-reduce), and integer
// buffers (num_batches_tracked) take the maximum. Every rank then holds
// identical buffers; running_mean equals what one process would hold over
// the combined batch, and a rank without a batch this step counts for
// nothing. `weight` is this rank's batch size (default 1: plain mean).
// With `include`, only the buffers whose state_dict names it accepts take
// part (QuaIL: frozen layers' buffers and AMM's already-synchronised
// estimates stay as they are, bit for bit).
void average_buffers(Communicator& comm, torch::nn::Module& module, int64_t weight = 1,
                     const std::function<bool(const std::string&)>& include = nullptr);

// Compares every rank's resolved config text (by hash); on a mismatch every
// rank throws the same Error(kConfig) naming the lowest differing rank and
// the first setting that differs from rank 0's.
void check_same_config(Communicator& comm, const std::string& config_text);

}  // namespace sisyphus::dist
