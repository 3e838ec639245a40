// QuaIL's stages: each planned stage's hooks and objective for the run's
// epoch loop (engine/run.h), the blend weights of the replacement stages,
// and the run's result.
#include "commands/quail_run.h"

namespace sisyphus::train {

bool QuailRun::run_stage(size_t index) {
  if (index < start_.stage) return true;  // done before a resume
  const Stage& stage = stages_[index];
  student_->set_trainable_points(stage_trainable(stage, num_points()));
  StageHooks hooks;
  if (index == start_.stage) hooks.from = {start_.epoch, start_.within, &resume_momentum_};
  hooks.seed = derive_seed(cfg_.seed, index + 1);
  hooks.checked = stage.mimic() ? stage.point + 1 : num_points();  // the trained region's outputs
  hooks.escape_bound = cfg_.escape_bound;
  hooks.describe_escape = [&](const GuardReading& g, int64_t epoch, int64_t epoch_step,
                              int64_t step) {
    return escape_message(stage, g, epoch, epoch_step, step);
  };
  if (stage.kind == StageKind::kBlend) {  // the weight for the next step
    hooks.schedule = [&](int64_t done, int64_t total) {
      set_blends(stage, blend_weight(done, total));
    };
  } else {
    set_blends(stage, 0);
  }
  // Tested only where it means something (--evaluate).
  hooks.evaluation_due = [&](int64_t epoch) {
    return evaluation_due(evaluation_, stages_, index, epoch);
  };
  const bool amm = nn::has_amm(*student_);
  hooks.eval_mode = amm ? "amm" : "-";
  hooks.keep_as = stage_path(stage);
  hooks.last = index + 1 == stages_.size();
  hooks.averaged = averaged_buffers();
  hooks.sync_time = collectives_.sync && amm ? collectives_.time.get() : nullptr;

  const Objective objective = stage.mimic() ? imitate_teacher_at(stage.point) : classify();
  const StageOutcome out = run_->stage(stage, hooks, *student_, objective);
  switch (out.end) {
    case StageEnd::kDone:
      result_.final_checkpoint = hooks.keep_as;
      ++result_.stages_run;
      return true;
    case StageEnd::kEscaped:
      result_.escaped = true;
      result_.escape_message = out.message;
      if (!cfg_.continue_on_escape) SISYPHUS_FAIL(ErrorKind::kDiverged, out.message);
      log::info(out.message + "; --continue-on-escape: this run ends here");
      if (job_.rank == 0) fs::write_text_file(run_->dir() + "/escaped.txt", out.message + "\n");
      return false;
    case StageEnd::kInterrupted:
      result_.interrupted = out.message;
      return false;
    case StageEnd::kStoppedEarly:
      result_.stopped_early = true;
      return false;
  }
  return false;
}

std::string QuailRun::escape_message(const Stage& stage, const GuardReading& g, int64_t epoch,
                                     int64_t epoch_step, int64_t step) const {
  const std::string what =
      (g.grads ? std::string("the gradients hold NaN or Inf")
       : g.point < 0
           ? "the loss is " + format_number("%g", g.value)
           : "the output of point " + student_->points()[static_cast<size_t>(g.point)].name +
                 " has max |x| = " + format_number("%g", g.value)) +
      g.where();
  const std::string last_good =
      run_->last_good().empty() ? "none yet (the teacher " + cfg_.teacher + ")" : run_->last_good();
  return "escape guard: stage " + stage.name + " (point " + student_->points()[stage.point].name +
         "), epoch " + std::to_string(epoch + 1) + " step " + std::to_string(epoch_step) +
         " (global step " + std::to_string(step) + "): " + what + " (bound " +
         format_number("%g", cfg_.escape_bound) + "); last good checkpoint: " + last_good;
}

void QuailRun::set_blends(const Stage& stage, double t) {
  const auto& points = student_->points();
  for (size_t l = 0; l < points.size(); ++l) {
    nn::ActivationSlot slot = points[l].slot;  // a handle to the network's slot
    if (slot.is_empty()) continue;
    switch (stage.kind) {
      case StageKind::kReplace:
        slot->set_blend(l <= stage.point ? 1.0 : 0.0);
        break;
      case StageKind::kBlend:
        slot->set_blend(t);
        break;
      default:
        slot->set_blend(-1);
    }
  }
}

QuailResult QuailRun::finish() {
  student_->set_trainable_points({});
  for (const auto& p : student_->points()) {  // the student computes its polynomials everywhere
    nn::ActivationSlot slot = p.slot;
    if (!slot.is_empty()) slot->set_blend(-1);
  }
  result_.eval = run_->last_eval();
  if (result_.stages_run == 0 && !result_.escaped && !result_.stopped_early &&
      result_.interrupted.empty()) {
    result_.eval = run_->test(*student_);
    result_.final_checkpoint = stages_.empty() ? "" : stage_path(stages_.back());
    log::info("run '" + cfg_.output.run + "' had already finished all " +
              std::to_string(stages_.size()) + " stages");
  }
  return result_;
}

}  // namespace sisyphus::train
