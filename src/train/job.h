// What every training and evaluation command shares: connecting the ranks,
// the device, RNG state for bit-exact resume, checksums across ranks, the
// network's input shape and a rank's next (possibly empty) batch.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "dist/communicator.h"
#include "nn/sequential_net.h"
#include "train/config.h"
#include "train/device.h"

namespace sisyphus::train {

struct Job {
  std::shared_ptr<dist::Communicator> comm;
  int rank = 0, world = 1;
  Placement place;  // device (a GPU per rank, or the CPU), precision, memory format
};

// Connects the ranks (backend name as for --backend) on the device of `dev`,
// registers the communicator for error aborts, sets the log prefix, torch's
// threads and the current GPU; logs the backend and device and why.
Job start_job(const std::string& backend, int threads, const DeviceConfig& dev);

// Sets torch's intra-op threads (0: the host's cores shared among the local
// ranks) and one inter-op thread.
void set_torch_threads(int threads);

torch::Tensor rng_state();  // torch's CPU generator
void set_rng_state(const torch::Tensor& state);

// Every rank's parameter+buffer checksum on rank 0's log; Error(kMpi) when
// they differ. `when` names the moment ("epoch 3").
void verify_ranks(dist::Communicator& comm, const torch::nn::Module& module, const std::string& when);

// With several ranks, AMM layers take their batch min/max over all ranks
// (nn/amm.h); with one, they need no communication. The time spent in those
// all-reduces is accumulated for reports.
void install_amm_sync(const Job& job);
struct SyncTime {
  int64_t calls = 0;
  double seconds = 0;
};
SyncTime amm_sync_time();

// <checkpoint_dir>/<run>/ made by rank 0; returns its last.h5 path.
// Error(kConfig) when the run has a checkpoint and resume is off (a run is
// never overwritten).
std::string prepare_run_dir(const Job& job, const std::string& checkpoint_dir, const std::string& run,
                            bool resume);

// The data set's train and test splits, each cut to its first `limit`
// images when limit > 0.
struct Splits {
  data::ImageSet train, test;
};
Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit);

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm = true);
// A zero batch of one input of the data set's shape (for probing networks).
torch::Tensor probe_input(const data::DatasetSpec& spec);

}  // namespace sisyphus::train
