// The scaffolding every training epoch shares (`train` and `quail`): this
// rank's loader for the epoch, the epoch's loss/accuracy sums over all
// ranks, and the checkpoint attributes that describe the run.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "train/job.h"

namespace sisyphus::train {

// This rank's shard of epoch `epoch` of `set`, shuffled by (seed, epoch),
// augmented with the data set's training augmentation when `augment`.
std::unique_ptr<data::BatchLoader> epoch_loader(const data::ImageSet& set, const data::DatasetSpec& spec,
                                                const Job& job, int64_t batch_size, bool augment,
                                                uint64_t seed, int64_t epoch);

// Loss and accuracy sums of one epoch; after sum_over_ranks, the job's.
struct EpochSums {
  double loss_sum = 0;  // per-sample loss, summed
  int64_t correct = 0;
  int64_t seen = 0;
  void add(double mean_loss, int64_t batch_correct, int64_t batch_size);
  double mean_loss() const;
  double accuracy() const;  // fraction
};
void sum_over_ranks(const Job& job, EpochSums* sums);

// Checkpoint attributes naming the run: network, data set and its geometry,
// the resolved config and its hash. Callers add stage, epoch and results.
io::CheckpointMeta run_meta(const std::string& network, const std::string& dataset,
                            const data::DatasetSpec& spec, bool imagenet_stem, bool batchnorm,
                            const std::string& config_text);

}  // namespace sisyphus::train
