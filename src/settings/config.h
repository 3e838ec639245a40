// Settings of a baseline training run. Plain structs with defaults (the
// paper's reference defaults, docs/quail.md). settings/settings.h lists every
// field once (name, help, rule): the CLI, config files and validation use
// that table. No torch here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sisyphus::train {

struct OptimConfig {
  double lr = 0.1;             // initial learning rate
  double momentum = 0.5;       // SGD momentum
  bool nesterov = true;        // Nesterov momentum
  double weight_decay = 5e-4;  // L2 penalty (QuaIL stages use 0)
  double lr_min = 0.0;         // cosine schedule floor (QuaIL stages use 1e-3)
  double grad_clip = 0.0;      // > 0: the gradients' global 2-norm clipped to this
                               // (torch.nn.utils.clip_grad_norm_); 0: off
};

// Range control of every activation input in training (beyond the paper,
// docs/beyond.md; nn::RangeControl): the objective adds
// penalty * sum over the slots of mean(|x / bound|^power); clip clamps x to
// [-bound, bound] before the activation (training only).
struct RangeConfig {
  double penalty = 0;          // lambda; 0: no penalty
  double bound = 0;            // r; needed by the penalty and by clip
  double power = 10;           // p
  std::string form = "power";  // power (mean |x/r|^p) or peak (per-image max over r, hinged)
  bool clip = false;
  double clip_bound = 0;  // the bound clip uses; 0: r
};

// Where a job's tensors live and how it computes (docs/gpu.md). Shared by
// train, quail and eval.
struct DeviceConfig {
  std::string device = "auto";  // auto (a GPU when one is visible), cpu, cuda
  std::string precision =
      "fp32";  // fp32, bf16 (autocast; polynomial activations and AMM stay fp32), fp64 (CPU)
  bool channels_last = false;      // NHWC memory format for images and conv weights
  bool fused_bn_relu = false;      // BN + ReLU in one CPU kernel each way (ResNets, fp32 NCHW)
  bool cudnn_benchmark = true;     // cuDNN autotuning on GPUs (fastest kernels for fixed shapes)
  bool deterministic = false;      // GPUs: deterministic cuDNN/torch algorithms, no autotuning
                                   // (bitwise repeatable runs, e.g. resume checks; slower)
  bool force_collectives = false;  // run every collective at world 1 too (NCCL/MPI exercised
                                   // on one GPU or CPU; tests, gpu_check)
  double nccl_timeout = 600;       // seconds a NCCL collective may take before the job is ended
  double peer_timeout = 30;  // seconds a rank may go unheard (dist/heartbeat.h) before the job ends
};
void check_device(const DeviceConfig& d);  // Error(kConfig) naming the flag

// The data a training command reads and how it batches it (train, quail).
struct DataConfig {
  std::string dir;                // empty: the data set's default location
  int64_t batch_size = 128;       // global training batch, split over the ranks
  int64_t test_batch_size = 100;  // global evaluation batch, split over the ranks
  int64_t train_limit = 0;        // use only the first N training images (0: all)
  int64_t test_limit = 0;         // use only the first N test images (0: all)
  bool augment = true;            // the data set's training augmentation
};

// How a job starts (app/cli.cpp, engine/job.h): train, quail and eval.
struct JobConfig {
  int threads = 0;               // torch intra-op threads (0: the cores shared among local ranks)
  std::string backend = "auto";  // auto, local, mpi, nccl
  DeviceConfig dev;              // device, precision, memory format
};

// How R ranks train as one model (train, quail).
struct RanksConfig {
  double bucket_mb = 25;     // gradient bucket size in MiB (the first is 1 MiB at most)
  bool verify_ranks = true;  // compare parameter checksums across ranks every epoch
  bool sync_bn = true;       // SyncBatchNorm: BN statistics over all ranks' batches
                             // (R ranks train as one process with the global batch; off:
                             // per-rank statistics, averaged after each step)
};

// A run's folder, log lines and trace (train, quail).
struct OutputConfig {
  std::string run;                             // run name (empty: the command's default)
  std::string checkpoint_dir = "checkpoints";  // runs live in <checkpoint_dir>/<run>/
  bool resume = false;                         // continue from <run>/last.h5
  int64_t log_every = 50;                      // progress line every N steps (0: only per epoch)
  int64_t trace_every = 50;   // activation trace record every N steps (0: evaluations only)
  bool trace_test = true;     // trace the test set at every evaluation
  int64_t trace_sample = 64;  // values per image behind trace histograms/moments (0: all)
};

struct TrainConfig {
  std::string network = "lenet";          // see `sisyphus train --help` for the list
  std::string dataset = "fashion-mnist";  // fashion-mnist, mnist, cifar10, cifar100, tiny-imagenet
  bool imagenet_stem = false;             // resnet50 only: 7x7/2 conv + 3x3/2 pooling stem
  bool batchnorm = true;     // false: drop the BN layers (plain stacks; exactness tests)
  std::string act = "relu";  // activation of every slot (nn/act_spec.h): training a
                             // polynomial network from scratch (docs/beyond.md)
  std::string init;          // start from this checkpoint's network and weights (folded or not)
                             // instead of random weights: fine-tuning (docs/beyond.md)
  RangeConfig range;         // penalty and clipping of activation inputs
  int64_t epochs = 5;        // total epochs (a resumed run continues to this)
  DataConfig data;
  OptimConfig optim;
  uint64_t seed = 42;  // weights, data order and augmentation
  JobConfig job;
  RanksConfig ranks;
  OutputConfig output;  // run empty: <network>-<dataset>[-<act>]
};

// Settings of a QuaIL run (`sisyphus quail`): the student starts as a copy
// of the teacher with `act` (optionally AMM before it) in every slot, then
// mimic stages 0..L-1 and fine-tune stages L-1..0 (docs/quail.md, QuaIL). Every
// stage gets a fresh optimizer with `optim` and a cosine schedule over its
// epochs (the reference's defaults).
struct QuailConfig {
  std::string teacher;             // baseline checkpoint (ReLU) to imitate
  std::string act = "quad";        // student activation spec (nn/act_spec.h)
  bool amm = false;                // AMM before every activation
  RangeConfig range;               // penalty and clipping of activation inputs, every stage
  std::string method = "imitate";  // imitate (QuaIL), or progressive / blend replacement
  int64_t replace_epochs = 1;      // epochs of each replace stage, or of the blend stage
  int64_t mimic_epochs = 50;       // epochs of each mimic stage (0: no mimic stages)
  int64_t finetune_epochs = 50;    // epochs of each fine-tune stage (0: none)
  DataConfig data;                 // dir empty: the teacher's data set's default location
  OptimConfig optim{0.1, 0.5, true, 0.0, 1e-3};
  uint64_t seed = 42;  // data order and augmentation (per stage: derived)
  JobConfig job;
  RanksConfig ranks;
  OutputConfig output;                 // run empty: <network>-<dataset>-quail-<act>[-amm]
  double escape_bound = 1e6;           // a checked output with max |x| above this escapes
  bool continue_on_escape = false;     // on escape: record it and exit 0 (for sweeps)
  int64_t stop_after_epochs = 0;       // end this invocation after N epochs (0: run to the end);
                                       // for time-sliced jobs that go on with --resume
  std::string evaluate = "reference";  // when the student is tested: reference (after the last
                                       // mimic stage and after fine-tuning), stages, epochs
  std::string mimic_forward = "full";  // full: the student's whole forward in a mimic stage (the
                                       // reference); to-point: it stops at the imitated point
  bool frozen_eval = false;            // frozen points' BN/AMM in evaluation mode during training
                             // (not the reference's: it keeps the whole student in training mode)
  bool amm_sync = true;  // AMM min/max over all ranks; off only to measure its cost
                         // (ranks' AMM statistics then differ: use with verify_ranks off)
};

// --method and --evaluate as the code uses them: parsed once (the driver),
// their names listed once (here; the settings table checks against them).
enum class Method { kImitate, kProgressive, kBlend };
enum class Evaluation { kReference, kStages, kEpochs };
std::vector<std::string> method_names();               // imitate, progressive, blend
std::vector<std::string> evaluation_names();           // reference, stages, epochs
Method parse_method(const std::string& name);          // Error(kConfig) naming --method for others
Evaluation parse_evaluation(const std::string& name);  // likewise --evaluate

void resolve(QuailConfig& cfg);  // data.dir and output.run need the teacher: the driver fills them
std::string to_config_text(const QuailConfig& cfg);

// Fills the derived defaults (data.dir, output.run) and rejects bad values with
// Error(kConfig) naming the flag (the activation spec included).
void resolve(TrainConfig& cfg);

// The resolved settings as a config file that `sisyphus --config` reads back:
// "[train]" then one "flag-name=value" line per setting.
std::string to_config_text(const TrainConfig& cfg);

// 16 hex digits (FNV-1a 64) of a config text; equal texts, equal hashes.
std::string config_hash(const std::string& text);

}  // namespace sisyphus::train
