// Settings of a baseline training run. Plain structs with defaults (the
// paper's reference defaults, PAPER.md); the CLI binds every field, so each
// can also come from a config file. No torch here.
#pragma once

#include <cstdint>
#include <string>

namespace sisyphus::train {

struct OptimConfig {
  double lr = 0.1;             // initial learning rate
  double momentum = 0.5;       // SGD momentum
  bool nesterov = true;        // Nesterov momentum
  double weight_decay = 5e-4;  // L2 penalty (QuaIL stages use 0)
  double lr_min = 0.0;         // cosine schedule floor (QuaIL stages use 1e-3)
};

struct TrainConfig {
  std::string network = "lenet";          // see `sisyphus train --help` for the list
  std::string dataset = "fashion-mnist";  // fashion-mnist, mnist, cifar10, cifar100, tiny-imagenet
  std::string data_dir;                   // empty: the data set's default location
  bool imagenet_stem = false;
  bool batchnorm = true;                  // false: drop the BN layers (plain stacks; exactness tests)             // resnet50 only: 7x7/2 conv + 3x3/2 pooling stem
  int64_t epochs = 5;                     // total epochs (a resumed run continues to this)
  int64_t batch_size = 128;               // training batch per rank (R ranks: global batch R*B)
  int64_t test_batch_size = 100;          // evaluation batch
  int64_t train_limit = 0;                // use only the first N training images (0: all)
  int64_t test_limit = 0;                 // use only the first N test images (0: all)
  bool augment = true;                    // the data set's training augmentation
  OptimConfig optim;
  uint64_t seed = 42;                     // weights, data order and augmentation
  int threads = 0;                        // torch intra-op threads (0: the cores shared among local ranks)
  bool sync_bn = false;                   // SyncBatchNorm: BN statistics over all ranks' batches
  bool verify_ranks = true;               // compare parameter checksums across ranks every epoch
  std::string backend = "auto";           // auto, local, mpi, nccl
  double bucket_mb = 25;                  // gradient bucket size in MiB (the first is 1 MiB at most)
  std::string run;                        // run name (empty: <network>-<dataset>)
  std::string checkpoint_dir = "checkpoints";  // runs live in <checkpoint_dir>/<run>/
  bool resume = false;                    // continue from <run>/last.h5
  int64_t log_every = 50;                 // progress line every N steps (0: only per epoch)
};

// Fills the derived defaults (data_dir, run) and rejects bad values with
// Error(kConfig) naming the flag.
void resolve(TrainConfig& cfg);

// The resolved settings as a config file that `sisyphus --config` reads back:
// "[train]" then one "flag-name=value" line per setting.
std::string to_config_text(const TrainConfig& cfg);

// 16 hex digits (FNV-1a 64) of a config text; equal texts, equal hashes.
std::string config_hash(const std::string& text);

}  // namespace sisyphus::train
