// The QuaIL run (quail.h's run_quail): the student, the teacher and what
// the stages share, its set-up and resume (quail.cpp) and its stage loop
// (quail_run_stage.cpp). Internal to those two files.
#pragma once

#include <torch/torch.h>

#include <cstdio>
#include <set>

#include "commands/quail.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "engine/collectives.h"
#include "engine/epoch.h"
#include "engine/epoch_runner.h"
#include "engine/escape_guard.h"
#include "engine/job.h"
#include "engine/metrics.h"
#include "engine/objective.h"
#include "engine/quail_stage.h"
#include "engine/range_control.h"
#include "engine/run_setup.h"
#include "engine/sgd.h"
#include "engine/tracing.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"

namespace sisyphus::train {

inline std::string format_number(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

// Where a (resumed) run starts: stage index and epochs already done in it.
struct Position {
  size_t stage = 0;
  int64_t epoch = 0;
  EpochStart within;  // inside that epoch after a mid-epoch stop
};

// One QuaIL run: the student, the teacher and everything the stages share.
class QuailRun {
 public:
  QuailRun(QuailConfig& cfg, Job& job, const io::Checkpoint& teacher_ckpt);

  // The paper's steps 2 and 3 (step 1, the ReLU baseline, is the teacher).
  // Each returns false when the run ends early (escape, --stop-after-epochs).
  bool mimic_layer(size_t l) {
    Objective o = Objective::imitation(*teacher_, l, cfg_.mimic_forward == "to-point");
    return run_stage(stage_index(true, l), o.with_range_penalty(*student_, cfg_.range.penalty));
  }
  bool fine_tune_from(size_t l) {
    Objective o = Objective::cross_entropy();
    return run_stage(stage_index(false, l), o.with_range_penalty(*student_, cfg_.range.penalty));
  }

  // Progressive replacement instead of steps 2 and 3 (--method): every
  // planned stage in order, each with cross-entropy.
  bool replace_stages() {
    for (size_t i = 0; i < stages_.size(); ++i)
      if (!run_stage(i, replacement_objective())) return false;
    return true;
  }

  size_t num_points() const { return student_->points().size(); }
  QuailResult finish();

 private:
  // Index in stages_ of the stage of this kind at point l; stages_.size()
  // when the kind has 0 epochs (not planned).
  size_t stage_index(bool mimic, size_t l) const;
  bool run_stage(size_t index, const Objective& objective);
  Objective replacement_objective() {
    Objective o = Objective::cross_entropy();
    return o.with_range_penalty(*student_, cfg_.range.penalty);
  }
  // The slots' blend for a replacement stage (-1 everywhere otherwise):
  // progressive, slots up to the stage's point polynomial and the rest ReLU;
  // blend, every slot at `t`.
  void set_blends(const Stage& stage, double t);
  void resume_from(const std::string& path);
  BufferFilter averaged_buffers() const;

  QuailConfig& cfg_;
  Job& job_;
  const io::CheckpointMeta tmeta_;
  const data::DatasetSpec& spec_;
  nn::Network teacher_, student_;
  std::vector<Stage> stages_;
  StatCollectives collectives_;
  RunFolder folder_;  // locked for the run's life
  std::string config_text_, run_dir_, last_path_, last_good_;
  Splits data_;
  std::unique_ptr<RunTrace> trace_;
  const StopSignal stop_;  // SIGUSR1/SIGTERM: stop at a step boundary with the state saved
  std::unique_ptr<EpochRunner> runner_;
  std::unique_ptr<MetricsCsv> metrics_;
  io::CheckpointMeta meta_;
  Position start_;
  int64_t step_ = 0, epochs_run_ = 0;
  int64_t step_before_epoch_ = 0;  // for the escape message's step within the epoch
  io::TensorList resume_momentum_;
  Clock::time_point run_start_ = Clock::now();
  QuailResult result_;
};

}  // namespace sisyphus::train
