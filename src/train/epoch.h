// What every training epoch shares (`train` and each QuaIL stage): this
// rank's loader, the epoch's sums over all ranks, and the record of a
// finished epoch: its checkpoint, its metrics.csv row and its log line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "nn/network.h"
#include "train/evaluate.h"
#include "train/job.h"
#include "train/metrics.h"
#include "train/sgd.h"

namespace sisyphus::train {

// This rank's share of every global batch of epoch `epoch` of `set`
// (data/sampler.h), shuffled by (seed, epoch), augmented with the data
// set's training augmentation when `augment`.
std::unique_ptr<data::BatchLoader> epoch_loader(const data::ImageSet& set,
                                                const data::DatasetSpec& spec, const Job& job,
                                                int64_t global_batch, bool augment, uint64_t seed,
                                                int64_t epoch);

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

// A finished epoch of a stage ("baseline", "mimic-03", ...).
struct EpochRecord {
  std::string stage;
  int64_t point = -1;  // QuaIL: the stage's imitation point
  int64_t epoch = 0;   // 1-based, completed
  int64_t epochs = 0;  // of the stage
  int64_t step = 0;    // optimizer steps so far
  double lr = 0;
  std::string loss_name;           // "loss" (cross-entropy) or "mse"
  EpochSums sums;                  // over all ranks
  double seconds = 0;              // training time of the epoch
  std::optional<EvalResult> eval;  // when the test set was evaluated
};

// The epoch's checkpoint: run meta + the record's figures (NaN test figures
// without an evaluation), the network, the optimizer state, the RNG.
io::Checkpoint epoch_checkpoint(const io::CheckpointMeta& run, const EpochRecord& rec,
                                const nn::NetworkImpl& net, const Sgd& sgd);
EpochRow epoch_row(const EpochRecord& rec, double elapsed_s);
// "[mimic-03] epoch 1/2 done: train mse 0.0123 acc 45.10% | test acc 88.02% over all, 88.02% over
// the finite (0 non-finite) | 2841 img/s | 0:01:02" (+ `extra`)
std::string epoch_line(const EpochRecord& rec, double elapsed_s, const std::string& extra = "");

}  // namespace sisyphus::train
