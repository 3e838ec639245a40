// Checkpoints in HDF5 (docs/checkpoint-format.md has the full schema).
//
//   /            attrs: format="sisyphus-checkpoint", version, network, dataset,
//                       stage, epoch, step, config (resolved, INI text),
//                       config_hash, test_acc, test_loss, num_classes,
//                       in_channels, image_size, imagenet_stem, batchnorm,
//                       folded (optional when reading),
//                       activation, point, stage_epochs, train_loss,
//                       test_nonfinite, teacher (QuaIL; optional when reading),
//                       epoch_step, partial_seconds (a mid-epoch stop;
//                       optional when reading)
//   /model/<state_dict name>         every parameter and buffer, natural shape
//   /optimizer/<kind>/<param name>   optimizer state (e.g. momentum/...)
//   /rng/torch_cpu                   uint8: torch's CPU generator state
//   /rng/torch_cuda                  uint8: the job's GPU's generator state (GPU runs only)
//   /progress/partial_sums           float64 [ranks, 3] (a mid-epoch stop only)
//   /            attr checksum: hex digest of all of the above (version 2):
//                load_checkpoint refuses a file whose content does not match
//
// Writes are atomic: the file is written as <path>.tmp, flushed to disk, and
// renamed over <path>, so a kill leaves either the old or the new file.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace sisyphus::io {

using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;

struct CheckpointMeta {
  std::string network;  // "lenet"
  std::string dataset;  // "fashion-mnist"
  std::string stage = "baseline";
  int64_t epoch = 0;           // epochs completed
  int64_t step = 0;            // optimizer steps completed
  std::string config;          // resolved config, INI text
  std::string config_hash;     // hex digest of `config`
  double test_acc = 0;         // fraction in [0, 1], over all test samples
  double test_acc_finite = 0;  // over the samples with finite outputs (the reference's figure)
  double test_loss = 0;
  int64_t num_classes = 0;
  int64_t in_channels = 0;
  int64_t image_size = 0;
  bool imagenet_stem = false;
  bool batchnorm = true;  // false for networks built with --no-batchnorm
  bool folded = false;    // the deployable form from `sisyphus fold` (nn/fold.h)
  // QuaIL (stage = "mimic-03", "finetune-02", ...); defaults for baselines
  std::string activation = "relu";  // activation spec of every slot (nn/act_spec.h)
  int64_t point = -1;               // the stage's imitation point
  int64_t stage_epochs = 0;         // epochs the stage runs (epoch counts within the stage)
  double train_loss = 0;            // mean training loss of the last epoch (MSE or cross-entropy)
  int64_t test_nonfinite = 0;       // test samples with NaN/Inf logits
  std::string teacher;              // the teacher checkpoint a student came from
  // A run stopped inside an epoch (a signal, core/stop_signal.h): the steps it
  // did of epoch `epoch + 1`; 0 is an epoch boundary. Optional when reading (0).
  // The sums themselves are per rank: Checkpoint::partial_sums.
  int64_t epoch_step = 0;
  double partial_seconds = 0;  // training time of those steps
};

struct Checkpoint {
  CheckpointMeta meta;
  TensorList model;                                           // state_dict order
  std::vector<std::pair<std::string, TensorList>> optimizer;  // kind -> per-parameter tensors
  torch::Tensor rng_state;                                    // may be undefined
  torch::Tensor cuda_rng_state;  // the job's GPU's generator; undefined for CPU runs
  // A mid-epoch stop: each rank's sums of the unfinished epoch so far,
  // float64 [ranks, 3] (loss sum, correct, seen); undefined otherwise.
  torch::Tensor partial_sums;
};

// 2: the content checksum. Version 1 files (no checksum) still load, unverified.
inline constexpr int64_t kCheckpointVersion = 2;

// Throws Error(kCheckpoint or kIo) naming the file when the write fails (the
// disk full, say); the temporary file is removed and `path` is untouched.
void save_checkpoint(const std::string& path, const Checkpoint& ckpt);
// Throws Error(kCheckpoint) naming the file when it is missing, not a
// sisyphus checkpoint, of another version, incomplete, or damaged (its
// content does not match its checksum: a flipped bit, a truncated copy).
Checkpoint load_checkpoint(const std::string& path);
// A version-1 checkpoint (written before content checksums; load_checkpoint
// refuses it) made version 2 with the checksum of its content as it is now:
// the user's explicit word that the file is trusted. Atomic (a copy renamed
// over the file); Error(kCheckpoint) for any other version.
void seal_checkpoint(const std::string& path);
// The checksum save_checkpoint stores: the metadata and every tensor's name,
// dtype, shape and bytes, tensors in the order of their full names.
std::string content_checksum(const Checkpoint& ckpt);
CheckpointMeta read_checkpoint_meta(const std::string& path);

// Parameters then buffers of `module`, under their state_dict names.
TensorList module_state(const torch::nn::Module& module);
// Copies `state` into `module`; every name must exist on both sides with the
// same shape, or Error(kCheckpoint) names the first mismatch and `source`.
// The compatibility rule for tensors added to a layer after checkpoints of
// it were written: a name of the module that ends with one of
// `optional_suffixes` may be missing from `state`; it is then filled with
// NaN (so that nothing silently uses an invented value) and returned.
std::vector<std::string> load_module_state(torch::nn::Module& module, const TensorList& state,
                                           const std::string& source,
                                           const std::vector<std::string>& optional_suffixes = {});

}  // namespace sisyphus::io
