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
#include "engine/evaluate.h"
#include "engine/job.h"
#include "engine/metrics.h"
#include "engine/sgd.h"
#include "io/checkpoint.h"
#include "nn/network.h"

namespace sisyphus::train {

// This rank's share of every global batch of epoch `epoch` of `set`
// (data/sampler.h), shuffled by (seed, epoch), augmented with the data
// set's training augmentation when `augment`; from global batch `first_batch` on.
std::unique_ptr<data::BatchLoader> epoch_loader(const data::ImageSet& set,
                                                const data::DatasetSpec& spec, const Job& job,
                                                int64_t global_batch, bool augment, uint64_t seed,
                                                int64_t epoch, int64_t first_batch = 0);

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
// Every rank's sums, float64 [ranks, 3] (loss sum, correct, seen), on every rank.
torch::Tensor gather_sums(const Job& job, const EpochSums& sums);

// Where an epoch starts: at its beginning, or, when a run stopped inside it
// resumes, after `epoch_step` global batches with this rank's sums of them
// and their training time.
struct EpochStart {
  int64_t epoch_step = 0;
  EpochSums sums;
  double seconds = 0;
};
// The start a checkpoint holds for this rank: its own sums when the job has
// as many ranks as the one that wrote it, else rank 0 carries all of them.
EpochStart epoch_start(const io::Checkpoint& ckpt, const Job& job);

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
// without an evaluation), the network, the optimizer state, the RNG (the
// CPU generator's, and on a GPU `place`'s device's).
io::Checkpoint epoch_checkpoint(const io::CheckpointMeta& run, const EpochRecord& rec,
                                const nn::NetworkImpl& net, const Sgd& sgd, const Placement& place);
// The checkpoint of an epoch a stop signal ended after `epoch_step` of its
// global batches: `rec` with the epochs before it as `epoch`, the unfinished
// epoch's sums of every rank (gather_sums) and training time. Every rank
// calls it (the gather); rank 0 writes the result.
io::Checkpoint unfinished_checkpoint(const Job& job, const io::CheckpointMeta& run,
                                     const EpochRecord& rec, int64_t epoch_step,
                                     const nn::NetworkImpl& net, const Sgd& sgd);
EpochRow epoch_row(const EpochRecord& rec, double elapsed_s);
// "[mimic-03] epoch 1/2 done: train mse 0.0123 acc 45.10% | test acc 88.02% over all, 88.02% over
// the finite (0 non-finite) | 2841 img/s | 0:01:02" (+ `extra`)
std::string epoch_line(const EpochRecord& rec, double elapsed_s, const std::string& extra = "");
// "stopped on SIGUSR1 at epoch 2 step 17; the state is in RUN/last.h5: continue with --resume"
std::string interrupted_line(const std::string& reason, const std::string& where,
                             const std::string& checkpoint);

}  // namespace sisyphus::train
