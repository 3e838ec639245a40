// How the settings tables (settings.h) are built: value rules, the Table
// builder, and the rows that several commands share (device, batches,
// optimiser, range control, job, run). Included by settings*.cpp only.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "settings/settings.h"

namespace sisyphus::train::table {

// Rules: "" when the value is fine, else why not.
template <class T>
using Rule = std::function<std::string(const T&)>;

template <class T>
Rule<T> at_least(T low) {
  return [low](const T& v) { return v >= low ? "" : "must be at least " + std::to_string(low); };
}
template <class T>
Rule<T> not_negative() {
  return [](const T& v) { return v >= 0 ? "" : std::string("must not be negative"); };
}
inline Rule<double> positive() {
  return [](const double& v) {
    return std::isfinite(v) && v > 0 ? "" : std::string("must be positive");
  };
}
inline std::string listed(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}
inline Rule<std::string> one_of(std::vector<std::string> names) {
  return [names](const std::string& v) {
    for (const auto& n : names)
      if (n == v) return std::string();
    return "'" + v + "' is not one of " + listed(names);
  };
}
inline Rule<std::string> plain_name() {
  return [](const std::string& v) {
    return v.find('/') == std::string::npos && v != "." && v != ".."
               ? ""
               : std::string("must be a plain name, not a path");
  };
}

// Builds a table; each row's field is reached through `get` from the config.
template <class C>
class Table {
 public:
  template <class T>
  Table& add(std::string name, std::string help, std::function<T&(C&)> get, Rule<T> rule = {}) {
    Setting<C> row;
    row.name = name;
    row.help = std::move(help);
    if constexpr (std::is_same_v<T, bool>) row.negation = "no-" + name;
    row.field = [get](C& c) { return SettingField(&get(c)); };
    if (rule) row.why_bad = [get, rule](const C& c) { return rule(get(const_cast<C&>(c))); };
    rows.push_back(std::move(row));
    return *this;
  }
  // A rule over the whole config (settings that depend on each other), on the last row.
  Table& also(std::function<std::string(const C&)> rule) {
    auto first = rows.back().why_bad;
    rows.back().why_bad = [first, rule](const C& c) {
      std::string why = first ? first(c) : "";
      return why.empty() ? rule(c) : why;
    };
    return *this;
  }
  Table& negation(std::string name) {
    rows.back().negation = std::move(name);
    return *this;
  }
  Table& required() {
    rows.back().required = true;
    return *this;
  }
  std::vector<Setting<C>> rows;
};

// A row of a sub-config (DeviceConfig) as a row of C, reached through `get`.
template <class C, class Sub>
Setting<C> nested(const Setting<Sub>& row, std::function<Sub&(C&)> get) {
  Setting<C> out{row.name, row.help, row.negation, nullptr, nullptr, row.required};
  out.field = [field = row.field, get](C& c) { return field(get(c)); };
  if (row.why_bad)
    out.why_bad = [why = row.why_bad, get](const C& c) { return why(get(const_cast<C&>(c))); };
  return out;
}

inline std::vector<Setting<DeviceConfig>> make_device_settings() {
  using C = DeviceConfig;
  Table<C> t;
  t.add<std::string>(
      "device", "Where tensors live: auto (a GPU when one is visible), cpu, cuda",
      [](C& c) -> std::string& { return c.device; }, one_of({"auto", "cpu", "cuda"}));
  t.add<std::string>(
      "precision",
      "fp32, bf16 (autocast for conv/linear; polynomial activations and AMM compute in fp32), "
      "or fp64 (CPU only: network, AMM, BN, SGD and collectives in double; a test precision)",
      [](C& c) -> std::string& { return c.precision; }, one_of({"fp32", "bf16", "fp64"}));
  t.add<bool>("channels-last", "NHWC memory format for images and conv weights",
              [](C& c) -> bool& { return c.channels_last; });
  t.add<bool>("fused-bn-relu",
              "CPU, float32, NCHW: a BatchNorm followed by a plain ReLU in a ResNet computed in "
              "one kernel each way (fewer passes over memory; torch's kernels when off)",
              [](C& c) -> bool& { return c.fused_bn_relu; });
  t.add<bool>("cudnn-benchmark", "cuDNN autotuning on GPUs",
              [](C& c) -> bool& { return c.cudnn_benchmark; });
  t.add<bool>("deterministic",
              "GPUs: deterministic cuDNN and torch algorithms and no autotuning, so that a run "
              "repeats bit for bit (slower)",
              [](C& c) -> bool& { return c.deterministic; });
  t.add<bool>("force-collectives",
              "Run every collective even on one rank, as DDP does (the reducer's buckets, buffer "
              "averaging, BN/AMM statistics, the escape guard through the backend): exercises "
              "NCCL or MPI on one GPU or CPU",
              [](C& c) -> bool& { return c.force_collectives; });
  t.add<double>(
      "nccl-timeout",
      "Seconds a NCCL collective may take before the communicator is aborted and the job ends",
      [](C& c) -> double& { return c.nccl_timeout; }, positive());
  t.add<double>(
      "peer-timeout",
      "Seconds without a heartbeat from another rank before every rank that notices "
      "ends, naming it (a rank died or the network between the hosts is cut)",
      [](C& c) -> double& { return c.peer_timeout; }, positive());
  return t.rows;
}

template <class C>
void add_test_limit(Table<C>& t, std::function<int64_t&(C&)> limit) {
  t.template add<int64_t>("test-limit", "Use only the first N test images (0: all)", limit,
                          not_negative<int64_t>());
}

// The rows every training command shares: batches and data.
template <class C>
void add_batches(Table<C>& t) {
  t.template add<int64_t>(
      "batch-size",
      "Global training batch, split over the ranks (R ranks train as one process with this batch)",
      [](C& c) -> int64_t& { return c.data.batch_size; }, at_least<int64_t>(1));
  t.template add<int64_t>(
      "test-batch-size", "Global evaluation batch, split over the ranks",
      [](C& c) -> int64_t& { return c.data.test_batch_size; }, at_least<int64_t>(1));
  t.template add<int64_t>(
      "train-limit", "Use only the first N training images (0: all)",
      [](C& c) -> int64_t& { return c.data.train_limit; }, not_negative<int64_t>());
  add_test_limit<C>(t, [](C& c) -> int64_t& { return c.data.test_limit; });
  t.template add<bool>(
      "augment",
      "The data set's training augmentation (CIFAR crop+flip, TinyImageNet rotation+flip)",
      [](C& c) -> bool& { return c.data.augment; });
}

template <class C>
void add_optim(Table<C>& t, const std::string& what) {
  t.template add<double>(
      "lr", "Initial learning rate" + what, [](C& c) -> double& { return c.optim.lr; }, positive());
  t.template add<double>(
      "momentum", "SGD momentum", [](C& c) -> double& { return c.optim.momentum; },
      [](const double& v) { return v >= 0 && v < 1 ? "" : std::string("must be in [0, 1)"); });
  t.template add<bool>("nesterov", "Nesterov momentum", [](C& c) -> bool& {
     return c.optim.nesterov;
   }).also([](const C& c) {
    return !c.optim.nesterov || c.optim.momentum > 0
               ? ""
               : std::string("Nesterov momentum needs --momentum > 0");
  });
  t.template add<double>(
      "weight-decay", "L2 weight decay", [](C& c) -> double& { return c.optim.weight_decay; },
      not_negative<double>());
  t.template add<double>("lr-min", "Learning rate at the end of the cosine schedule" + what,
                         [](C& c) -> double& { return c.optim.lr_min; })
      .also([](const C& c) {
        return c.optim.lr_min >= 0 && c.optim.lr_min <= c.optim.lr
                   ? ""
                   : std::string("must be in [0, --lr]");
      });
  t.template add<double>(
      "grad-clip",
      "Clip the global 2-norm of the gradients to this before every update, as "
      "torch.nn.utils.clip_grad_norm_ (0: off)",
      [](C& c) -> double& { return c.optim.grad_clip; }, not_negative<double>());
}

// Range control of the activation inputs (train and quail).
template <class C>
void add_range(Table<C>& t) {
  t.template add<double>(
      "range-penalty",
      "Range penalty lambda: adds lambda * sum over the activation inputs x of "
      "the --range-form term (mean(|x/r|^p) by default) to the loss (0: off; needs --range-bound)",
      [](C& c) -> double& { return c.range.penalty; }, not_negative<double>());
  t.template add<double>(
       "range-bound", "r of the range penalty and of --clip-inputs (0: off)",
       [](C& c) -> double& { return c.range.bound; }, not_negative<double>())
      .also([](const C& c) {
        return (c.range.penalty > 0 || c.range.clip) && !(c.range.bound > 0)
                   ? std::string("--range-penalty and --clip-inputs need a bound > 0")
                   : std::string();
      });
  t.template add<double>(
      "range-power", "p of the range penalty", [](C& c) -> double& { return c.range.power; },
      [](const double& v) { return v >= 1 && v <= 64 ? "" : std::string("must be in [1, 64]"); });
  t.template add<std::string>(
      "range-form",
      "power: the penalty is mean(|x/r|^p) over every element (PILLAR's); peak: mean over the "
      "images of max(0, m/r - 1)^2, m an image's largest |x| at the slot",
      [](C& c) -> std::string& { return c.range.form; }, one_of({"power", "peak"}));
  t.template add<bool>("clip-inputs",
                       "Clamp every activation input to [-r, r] while training (never at "
                       "inference)",
                       [](C& c) -> bool& { return c.range.clip; });
  t.template add<double>(
       "clip-bound",
       "The bound --clip-inputs clamps to when it differs from the penalty's r: a clip above r "
       "lets moderate excursions through, so the penalty sees how they grow (0: r)",
       [](C& c) -> double& { return c.range.clip_bound; }, not_negative<double>())
      .also([](const C& c) {
        return c.range.clip_bound > 0 && !c.range.clip ? std::string("needs --clip-inputs")
                                                       : std::string();
      });
}

// Threads, communication and device (every command that runs a network).
template <class C>
void add_compute(Table<C>& t) {
  t.template add<int>(
      "threads", "Torch intra-op threads per rank (0: the host's cores / ranks on the host)",
      [](C& c) -> int& { return c.job.threads; }, not_negative<int>());
  t.template add<std::string>(
      "backend",
      "Communication: auto (NCCL on GPUs, MPI under mpirun, else local), local, mpi, nccl",
      [](C& c) -> std::string& { return c.job.backend; }, one_of({"auto", "local", "mpi", "nccl"}));
  for (const auto& row : device_settings())
    t.rows.push_back(nested<C, DeviceConfig>(row, [](C& c) -> DeviceConfig& { return c.job.dev; }));
}

// Ranks, device and communication of a training job.
template <class C>
void add_job(Table<C>& t) {
  add_compute(t);
  t.template add<double>(
      "bucket-mb", "Gradient all-reduce bucket size in MiB",
      [](C& c) -> double& { return c.ranks.bucket_mb; },
      [](const double& v) {
        return v > 0 && v <= 4096 ? "" : std::string("must be in (0, 4096]");
      });
  t.template add<bool>(
      "verify-ranks",
      "After every epoch, check that all ranks hold bitwise identical parameters and buffers",
      [](C& c) -> bool& { return c.ranks.verify_ranks; });
}

// The run's files and logs.
template <class C>
void add_run(Table<C>& t, const std::string& run_default) {
  t.template add<std::string>(
      "run", "Run name; files go to <checkpoint-dir>/<run>/ (default " + run_default + ")",
      [](C& c) -> std::string& { return c.output.run; }, plain_name());
  t.template add<std::string>("checkpoint-dir", "Folder holding the runs",
                              [](C& c) -> std::string& { return c.output.checkpoint_dir; });
  t.template add<bool>("resume", "Continue the run from <run>/last.h5",
                       [](C& c) -> bool& { return c.output.resume; });
  t.template add<int64_t>(
      "log-every", "Progress line every N steps (0: per epoch only)",
      [](C& c) -> int64_t& { return c.output.log_every; }, not_negative<int64_t>());
  t.template add<int64_t>(
      "trace-every",
      "Activation trace (<run>/trace.h5) of one training batch every N steps (0: evaluations only)",
      [](C& c) -> int64_t& { return c.output.trace_every; }, not_negative<int64_t>());
  t.template add<bool>(
      "trace-test",
      "Trace every evaluation of the test set (<run>/trace.h5: per-layer max |x|, moments, "
      "histograms); with --trace-every 0 and --no-trace-test no trace file is written",
      [](C& c) -> bool& { return c.output.trace_test; });
  t.template add<int64_t>(
      "trace-sample",
      "Trace histograms and moments over this many values of every image at each point (the "
      "same positions in each; count, min, max, max |x|, NaN, Inf and above are always over "
      "every value); 0: every value (about 3x the evaluation's time on a CPU)",
      [](C& c) -> int64_t& { return c.output.trace_sample; }, not_negative<int64_t>());
}

}  // namespace sisyphus::train::table
