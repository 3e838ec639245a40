// The QuaIL run (quail.h's run_quail): the student, the teacher and what
// the stages share, its set-up and resume (quail.cpp) and each stage's hooks
// for engine/run.h's epoch loop (quail_run_stage.cpp). Internal to those two
// files.
#pragma once

#include <torch/torch.h>

#include <set>

#include "commands/quail.h"
#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "dist/sync.h"
#include "engine/collectives.h"
#include "engine/epoch.h"
#include "engine/job.h"
#include "engine/objective.h"
#include "engine/quail_stage.h"
#include "engine/range_control.h"
#include "engine/run.h"
#include "engine/run_setup.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"

namespace sisyphus::train {

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

  // The planned stages, in order (engine/quail_stage.h): the paper's steps 2
  // and 3, or the replacement stages (--method).
  const std::vector<Stage>& plan() const { return stages_; }
  // Runs planned stage `index` to its end (one done before a resume: at
  // once); false when the run ends early (escape, a stop signal,
  // --stop-after-epochs).
  bool run_stage(size_t index);
  size_t num_points() const { return student_->points().size(); }
  QuailResult finish();

 private:
  // Step 2's objective: the student's output at point l imitates the
  // teacher's (MSE).
  Objective imitate_teacher_at(size_t l) {
    Objective o = Objective::imitation(*teacher_, l, cfg_.mimic_forward == "to-point");
    return o.with_range_penalty(*student_, cfg_.range.penalty);
  }
  // Step 3's and the replacement stages' objective: cross-entropy.
  Objective classify() {
    Objective o = Objective::cross_entropy();
    return o.with_range_penalty(*student_, cfg_.range.penalty);
  }
  // The slots' blend for a replacement stage (-1 everywhere otherwise):
  // progressive, slots up to the stage's point polynomial and the rest ReLU;
  // blend, every slot at `t`.
  void set_blends(const Stage& stage, double t);
  void resume_from(const std::string& path);
  // Where a stage's result is kept: <run>/<stage>.h5.
  std::string stage_path(const Stage& stage) const {
    return run_->dir() + "/" + stage.name + ".h5";
  }
  BufferFilter averaged_buffers() const;
  // The escape guard's message (the stage, where in it, what escaped).
  std::string escape_message(const Stage& stage, const GuardReading& g, int64_t epoch,
                             int64_t epoch_step, int64_t step) const;

  QuailConfig& cfg_;
  const Method method_;          // --method, parsed once
  const Evaluation evaluation_;  // --evaluate, parsed once
  Job& job_;
  const io::CheckpointMeta tmeta_;
  const data::DatasetSpec& spec_;
  nn::Network teacher_, student_;
  std::vector<Stage> stages_;
  StatCollectives collectives_;
  std::string config_text_;
  std::unique_ptr<Run> run_;  // the folder, trace, metrics, checkpoints and the epoch loop
  Position start_;
  io::TensorList resume_momentum_;
  QuailResult result_;
};

}  // namespace sisyphus::train
