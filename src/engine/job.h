// A job: its ranks connected, its device chosen, torch's threads set, and
// the RNG state that bit-exact resume saves and restores.
//
// The command line (app/cli.cpp) starts the job once, after the command's
// settings are checked, and owns it: the abort path gets its communicator
// from there, and it is released when the command returns, so the
// communicator (NCCL's included) is gone before MPI_Finalize and before the
// CUDA runtime shuts down.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

#include "dist/communicator.h"
#include "engine/device.h"
#include "settings/config.h"

namespace sisyphus::dist {
class Heartbeat;
}

namespace sisyphus::train {

struct Job {
  std::shared_ptr<dist::Communicator> comm;  // a local one (size 1) outside mpirun
  int rank = 0, world = 1;
  int local_ranks = 1;  // ranks on this host
  Placement place;      // device (a GPU per rank, or the CPU), precision, memory format
  // Watches the other ranks (more than one rank): a lost one ends this rank
  // with a line naming it. Says goodbye when the job is destroyed.
  std::shared_ptr<dist::Heartbeat> heartbeat;
};

// Connects the ranks (cfg.backend as for --backend) on the device of cfg.dev
// (collectives forced at world 1 with dev.force_collectives), starts the
// heartbeat (dev.peer_timeout), sets the log prefix, torch's threads
// (cfg.threads) and the current GPU; logs the backend and device and why.
Job start_job(const JobConfig& cfg);

// Sets torch's intra-op threads (0: the host's cores shared among the
// `local_ranks` ranks on it) and one inter-op thread.
void set_torch_threads(int threads, int local_ranks);

// torch's generators: the CPU one, and on a GPU the job's device's (dropout
// in AlexNet and VGG draws from it there).
struct RngState {
  torch::Tensor cpu;
  torch::Tensor cuda;  // undefined on the CPU
};
RngState rng_state(const Placement& place);
// Restores what `state` holds for `place`: the CUDA state only on a GPU (a
// checkpoint written on a GPU resumes on the CPU with the CPU state alone).
void set_rng_state(const RngState& state, const Placement& place);

}  // namespace sisyphus::train
