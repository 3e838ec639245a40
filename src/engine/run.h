// A training run: the one object that owns the run folder (locked for the
// run's life), the stop signal, the resume position, the data, the trace,
// the metrics and the checkpoints' metadata, and the one loop over epochs
// (Run::stage, with the step loop of engine/epoch_runner.h inside it).
//
// A run is a sequence of stages (engine/quail_stage.h): `sisyphus train` is
// one stage of kind kBaseline; QuaIL's mimic and fine-tune stages and the
// replacement and blend stages are the others. What differs between them is
// their objective and their StageHooks (what the escape guard checks and how
// it words an escape, when the student is tested, the blend schedule, where
// the stage's result is kept).
//
//   Run run(job, run_settings(cfg, ...));          // folder made and locked
//   if (run.has_checkpoint()) ... run.restore(ckpt, net, "");
//   run.start(splits, spec, trace_header, meta);    // trace and metrics open
//   StageOutcome o = run.stage(stage, hooks, net, objective);
#pragma once

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/stop_signal.h"
#include "engine/collectives.h"
#include "engine/epoch.h"
#include "engine/epoch_runner.h"
#include "engine/escape_guard.h"
#include "engine/evaluate.h"
#include "engine/job.h"
#include "engine/metrics.h"
#include "engine/objective.h"
#include "engine/quail_stage.h"
#include "engine/run_setup.h"
#include "engine/tracing.h"
#include "io/checkpoint.h"
#include "settings/config.h"

namespace sisyphus::train {

struct RunSettings {
  std::string name;               // the run (its folder, trace records, messages)
  std::string checkpoint_dir;     // the run lives in <checkpoint_dir>/<name>/
  bool resume = false;            // continue from <run>/last.h5
  OptimConfig optim;              // every stage's optimizer and cosine schedule
  double bucket_mb = 25;          // gradient buckets (dist/reducer.h)
  RangeConfig range;              // reported after every epoch (engine/range_control.h)
  int64_t stop_after_epochs = 0;  // end this invocation after N epochs (0: run to the end)
  int64_t trace_every = 50;       // engine/tracing.h
  bool trace_test = true;
  RunnerSettings runner;  // the epoch runner's (its stop signal is the run's)
};

// The settings every training command shares, from its config.
template <class Config>
RunSettings run_settings(const Config& cfg, bool keep_outputs) {
  RunSettings s;
  s.name = cfg.output.run;
  s.checkpoint_dir = cfg.output.checkpoint_dir;
  s.resume = cfg.output.resume;
  s.optim = cfg.optim;
  s.bucket_mb = cfg.ranks.bucket_mb;
  s.range = cfg.range;
  s.trace_every = cfg.output.trace_every;
  s.trace_test = cfg.output.trace_test;
  s.runner = {cfg.output.run,
              cfg.data.batch_size,
              cfg.data.test_batch_size,
              cfg.data.augment,
              cfg.output.log_every,
              cfg.ranks.verify_ranks,
              keep_outputs,
              nullptr};
  return s;
}

// Where a stage starts: at its beginning, or (the stage a run resumes in)
// after `epoch` epochs and inside the next one, with the optimizer's
// momentum of the checkpoint.
struct StagePosition {
  int64_t epoch = 0;
  EpochStart within;
  const io::TensorList* momentum = nullptr;  // null or empty: a fresh optimizer
};

// What a stage does beyond the common loop.
struct StageHooks {
  StagePosition from;
  uint64_t seed = 0;  // data order and augmentation
  // The escape guard: the first `checked` point outputs of every step (0:
  // the loss and the gradients only) against `escape_bound`.
  size_t checked = 0;
  double escape_bound = std::numeric_limits<double>::infinity();
  // The escape's message from the guard's reading, at 0-based `epoch`,
  // `epoch_step` steps into it, global `step`.
  std::function<std::string(const GuardReading& g, int64_t epoch, int64_t epoch_step, int64_t step)>
      describe_escape;
  // Called before the stage's first step and after every step with the
  // steps done of the stage's total (the blend schedule); null: none.
  std::function<void(int64_t done, int64_t total)> schedule;
  // Whether the network is tested after 0-based `epoch`; null: every epoch.
  std::function<bool(int64_t epoch)> evaluation_due;
  std::string eval_mode = "-";  // the test records' mode ("amm" with AMM)
  // Where the stage's result is copied when its last epoch ends ("": not kept).
  std::string keep_as;
  bool last = true;  // the run's last stage: no stop agreement after its last epoch
  // Which buffers are averaged over the ranks after every step.
  BufferFilter averaged;
  // The epoch line's "AMM/BN sync ... ms/step" from this timer; null: none.
  const SyncTime* sync_time = nullptr;
};

enum class StageEnd {
  kDone,         // every epoch ran
  kEscaped,      // the escape guard stopped it (message)
  kInterrupted,  // a stop signal: the state is in last.h5 (message: the log line)
  kStoppedEarly  // RunSettings::stop_after_epochs reached
};
struct StageOutcome {
  StageEnd end = StageEnd::kDone;
  std::string message;
  int64_t epoch = 0;  // 0-based: the epoch it ended in
};

class Run {
 public:
  // Makes and locks <checkpoint_dir>/<name>/ (rank 0; run_setup.h) and
  // catches SIGUSR1/SIGTERM from here on (a stop at a step boundary with the
  // state saved).
  Run(const Job& job, RunSettings settings);

  const std::string& dir() const { return folder_.dir; }
  const std::string& last_path() const { return folder_.last_path; }
  // The run resumes: --resume and <run>/last.h5 exists.
  bool has_checkpoint() const;

  // Resume: the checkpoint's model (tensors named in `may_lack` may be
  // missing: each is logged) and RNG, the step count; logs "resume: <path>
  // after <where>epoch E ...". Returns where in its epoch the run stopped.
  EpochStart restore(const io::Checkpoint& ckpt, nn::NetworkImpl& net, const std::string& where,
                     const std::vector<std::string>& may_lack = {});

  // From here on the run records: the trace (appended to after a restore),
  // metrics.csv and the checkpoints, whose metadata is `meta`.
  void start(Splits data, const data::DatasetSpec& spec, const trace::TraceHeader& header,
             io::CheckpointMeta meta);

  // The loop over one stage's epochs: its trainable parameters (those that
  // require gradients) get a fresh optimizer and reducer; after every epoch
  // the range report, the test (hooks.evaluation_due), the metrics row, the
  // checkpoint (last.h5, and hooks.keep_as after the stage's last epoch) and
  // the epoch line; then --stop-after-epochs and the stop signal.
  StageOutcome stage(const Stage& stage, const StageHooks& hooks, nn::NetworkImpl& net,
                     const Objective& objective);

  // The test split, untraced (a run that had already finished).
  EvalResult test(nn::NetworkImpl& net) const;

  int64_t steps_per_epoch() const { return runner_->steps_per_epoch(); }
  // "<path>" of the last checkpoint written or resumed from; "" when none.
  const std::string& last_good() const { return last_good_; }
  int64_t epochs_run() const { return epochs_run_; }  // in this invocation
  double images_per_s() const;                        // training throughput of this invocation
  const EvalResult& last_eval() const { return last_eval_; }  // the latest test

 private:
  const Job& job_;
  RunSettings s_;
  const StopSignal stop_;
  RunFolder folder_;
  bool restored_ = false;
  const data::DatasetSpec* spec_ = nullptr;
  Splits data_;
  std::unique_ptr<RunTrace> trace_;
  std::unique_ptr<EpochRunner> runner_;
  std::unique_ptr<MetricsCsv> metrics_;  // rank 0
  io::CheckpointMeta meta_;
  int64_t step_ = 0;               // global optimizer steps
  int64_t step_before_epoch_ = 0;  // for the escape message's step within the epoch
  int64_t epochs_run_ = 0, images_seen_ = 0;
  double train_seconds_ = 0;
  std::string last_good_;
  EvalResult last_eval_;
  Clock::time_point start_time_ = Clock::now();
};

}  // namespace sisyphus::train
