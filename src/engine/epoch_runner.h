// The epoch skeleton every stage of the paper runs (the baseline, each mimic
// stage, each fine-tune stage), with the objective as its only difference:
// this rank's loader, the step loop (fetch -> step -> buffers -> trace ->
// check -> progress), the sums over all ranks, the check that every rank
// holds the same model, and the test-set evaluation with its trace record.
#pragma once

#include <functional>
#include <string>

#include "core/stop_signal.h"
#include "data/dataset.h"
#include "dist/reducer.h"
#include "engine/epoch.h"
#include "engine/evaluate.h"
#include "engine/job.h"
#include "engine/objective.h"
#include "engine/run_setup.h"
#include "engine/sgd.h"
#include "engine/step.h"
#include "engine/tracing.h"
#include "nn/network.h"

namespace sisyphus::train {

struct RunnerSettings {
  std::string run;             // names the trace's records
  int64_t global_batch = 128;  // training batch over all ranks (the experiment's setting)
  int64_t test_batch = 100;    // evaluation batch over all ranks
  bool augment = true;
  int64_t log_every = 50;     // progress line every N steps (0: none)
  bool verify_ranks = true;   // checksums compared across ranks after every epoch
  bool keep_outputs = false;  // every step's point outputs (for a StepCheck that reads them)
  // Looked at after every step (the ranks agree, in the StepCheck's collective
  // or stop_agreed): the epoch stops there with its state kept for a
  // mid-epoch checkpoint. Null: none.
  const StopSignal* stop = nullptr;
};

struct EpochPlan {
  std::string stage;   // "baseline", "mimic-03", "finetune-00"
  int64_t epoch = 0;   // 0-based, within the stage
  int64_t epochs = 0;  // of the stage
  double lr = 0;
  uint64_t seed = 0;  // data order and augmentation
};

// Buffers averaged over the ranks after every step (weighted by each rank's
// samples): those that no synchronised layer keeps identical. Null: none.
using BufferFilter = std::function<bool(const std::string& name)>;

// What the ranks agreed on after a step.
struct StepVerdict {
  std::string stopped;       // non-empty: the check's message (the epoch stops at this step)
  bool stop_signal = false;  // a stop signal reached some rank
};

// Looks at a finished step (its result, this rank's batch size, the global
// step, whether a stop signal reached this rank) and returns the verdict of
// all ranks: a non-empty message stops the epoch there (that step is traced).
// Every rank must reach the same verdict: the check reduces its reading and
// the signal in one collective (check_escape), so that a step has one.
using StepCheck = std::function<StepVerdict(const StepResult& r, int64_t batch_size, int64_t step,
                                            bool stop_signal)>;

struct EpochOutcome {
  EpochSums sums;       // over all ranks (an interrupted epoch: this rank's)
  double seconds = 0;   // training time (with the resumed part's)
  std::string stopped;  // the check's message; empty when the epoch ran to its end
  // A stop signal (RunnerSettings::stop) ended the epoch after this many of
  // its global batches (0: it was not interrupted).
  int64_t interrupted_at = 0;
};

class EpochRunner {
 public:
  EpochRunner(const Job& job, const Splits& data, const data::DatasetSpec& spec, RunTrace& trace,
              RunnerSettings settings);
  int64_t steps_per_epoch() const;

  // One epoch of `objective` on the training split (from `from`, inside it
  // when resuming a mid-epoch stop); `step` counts global optimizer steps
  // across epochs and stages.
  EpochOutcome train(nn::NetworkImpl& net, Sgd& sgd, dist::GradientReducer& reducer,
                     const Objective& objective, const EpochPlan& plan,
                     const BufferFilter& averaged, int64_t* step, const StepCheck& check = nullptr,
                     const EpochStart& from = {});
  // Whether a stop signal reached any rank (every rank must call it: one
  // all-reduce); false without RunnerSettings::stop.
  bool stop_agreed() const;
  // Whether a stop signal reached this rank (no collective).
  bool stop_signal_here() const;
  // The signal's name on this rank ("SIGUSR1"), or "a stop signal on another rank".
  std::string stop_reason() const;
  // The test split, traced as (stage, "eval", mode) at (epoch, step).
  EvalResult test(nn::NetworkImpl& net, const std::string& stage, const std::string& mode,
                  int64_t epoch, int64_t step);

 private:
  const Job& job_;
  const Splits& data_;
  const data::DatasetSpec& spec_;
  RunTrace& trace_;
  RunnerSettings s_;
};

}  // namespace sisyphus::train
