// QuaIL's stage loop: one planned stage run to its end (or the run's), the
// blend weights of the replacement stages, and the run's result.
#include "commands/quail_run.h"

namespace sisyphus::train {

bool QuailRun::run_stage(size_t index, const Objective& objective) {
  if (index == stages_.size() || index < start_.stage)
    return true;  // not planned, or done before a resume
  const Stage& stage = stages_[index];
  const std::string& point_name = student_->points()[stage.point].name;
  student_->set_trainable_points(stage_trainable(stage, num_points()));
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : student_->named_parameters())
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, cfg_.optim);  // a fresh optimizer per stage, as the reference
  if (index == start_.stage && !resume_momentum_.empty())
    sgd.load_state(resume_momentum_, last_path_);
  dist::GradientReducer reducer(job_.comm, params, dist::reducer_options(cfg_.bucket_mb));
  const BufferFilter averaged = averaged_buffers();
  int64_t trainable_count = 0;
  for (const auto& p : params) trainable_count += p.second.numel();
  log::info("[" + stage.name + "] point " + point_name + ": " + std::to_string(params.size()) +
            " trainable tensors (" + std::to_string(trainable_count) + " parameters), " +
            objective.describe(*student_) + ", " + std::to_string(stage.epochs) + " epoch(s)");
  const uint64_t stage_seed = derive_seed(cfg_.seed, index + 1);
  const size_t checked =
      stage.mimic() ? stage.point + 1 : num_points();  // the trained region's outputs
  int64_t epoch = index == start_.stage ? start_.epoch : 0;
  const EpochStart first = index == start_.stage ? start_.within : EpochStart{};
  const int64_t stage_steps = stage.epochs * runner_->steps_per_epoch();
  set_blends(stage,
             blend_weight(epoch * runner_->steps_per_epoch() + first.epoch_step, stage_steps));
  const StepCheck guard = [&](const StepResult& r, int64_t, int64_t at,
                              bool signal) -> StepVerdict {
    if (stage.kind == StageKind::kBlend)  // the weight for the next step
      set_blends(stage, blend_weight(epoch * runner_->steps_per_epoch() + at - step_before_epoch_,
                                     stage_steps));
    const GuardReading g = check_escape(r.outputs, checked, r.loss, cfg_.escape_bound,
                                        job_.comm.get(), r.grads_nonfinite, signal);
    if (!g.escaped) return {"", g.stop_signal};
    const std::string what =
        (g.grads ? std::string("the gradients hold NaN or Inf")
         : g.point < 0
             ? "the loss is " + format_number("%g", g.value)
             : "the output of point " + student_->points()[static_cast<size_t>(g.point)].name +
                   " has max |x| = " + format_number("%g", g.value)) +
        g.where();
    return {"escape guard: stage " + stage.name + " (point " + point_name + "), epoch " +
                std::to_string(epoch + 1) + " step " + std::to_string(at - step_before_epoch_) +
                " (global step " + std::to_string(at) + "): " + what + " (bound " +
                format_number("%g", cfg_.escape_bound) + "); last good checkpoint: " + last_good_,
            g.stop_signal};
  };

  for (; epoch < stage.epochs; ++epoch) {
    const EpochPlan plan{stage.name, epoch, stage.epochs,
                         cosine_lr(cfg_.optim, epoch, stage.epochs), stage_seed};
    const double sync_before_s = collectives_.time->seconds();
    const EpochStart from = index == start_.stage && epoch == start_.epoch ? first : EpochStart{};
    step_before_epoch_ = step_ - from.epoch_step;
    EpochOutcome out =
        runner_->train(*student_, sgd, reducer, objective, plan, averaged, &step_, guard, from);
    if (!out.stopped.empty()) {
      result_.escaped = true;
      result_.escape_message = out.stopped;
      if (!cfg_.continue_on_escape) SISYPHUS_FAIL(ErrorKind::kDiverged, out.stopped);
      log::info(out.stopped + "; --continue-on-escape: this run ends here");
      if (job_.rank == 0) {
        std::FILE* f = std::fopen((run_dir_ + "/escaped.txt").c_str(), "w");
        if (f) {
          std::fprintf(f, "%s\n", out.stopped.c_str());
          std::fclose(f);
        }
      }
      return false;
    }
    // the stage's record of `completed` epochs, with this epoch's sums and time
    auto record = [&](int64_t completed) {
      return EpochRecord{.stage = stage.name,
                         .point = static_cast<int64_t>(stage.point),
                         .epoch = completed,
                         .epochs = stage.epochs,
                         .step = step_,
                         .lr = plan.lr,
                         .loss_name = stage.mimic() ? "mse" : "loss",
                         .sums = out.sums,
                         .seconds = out.seconds};
    };
    if (out.interrupted_at > 0) {  // a stop signal: the unfinished epoch's state, then exit
      const EpochRecord rec = record(epoch);  // the epochs before the unfinished one
      io::Checkpoint ckpt =
          unfinished_checkpoint(job_, meta_, rec, out.interrupted_at, *student_, sgd);
      if (job_.rank == 0) io::save_checkpoint(last_path_, ckpt);
      result_.interrupted = interrupted_line(runner_->stop_reason(),
                                             stage.name + " epoch " + std::to_string(epoch + 1) +
                                                 " step " + std::to_string(out.interrupted_at),
                                             last_path_);
      return false;
    }
    if (const std::string r = range_report(*student_, cfg_.range, *job_.comm); !r.empty())
      log::info(r);
    const double sync_ms_per_step = 1000.0 * (collectives_.time->seconds() - sync_before_s) /
                                    static_cast<double>(runner_->steps_per_epoch());

    // Tested only where it means something (--evaluate).
    EpochRecord rec = record(epoch + 1);
    if (evaluation_due(cfg_.evaluate, stages_, index, epoch)) {
      rec.eval = runner_->test(*student_, stage.name, nn::has_amm(*student_) ? "amm" : "-",
                               epoch + 1, step_);
      result_.eval = *rec.eval;
    }
    const bool stage_done = epoch + 1 == stage.epochs;
    const std::string stage_path = run_dir_ + "/" + stage.name + ".h5";
    // the row first: a kill between the two leaves a row the resumed run drops and writes again
    if (metrics_) metrics_->write(epoch_row(rec, seconds_since(run_start_)));
    if (job_.rank == 0) {
      io::save_checkpoint(last_path_, epoch_checkpoint(meta_, rec, *student_, sgd, job_.place));
      if (stage_done) fs::copy_file_atomic(last_path_, stage_path);  // the stage's result, kept
    }
    last_good_ = stage_done ? stage_path : last_path_;
    log::info(
        epoch_line(rec, seconds_since(run_start_),
                   collectives_.sync && nn::has_amm(*student_)
                       ? " | AMM/BN sync " + format_number("%.2f", sync_ms_per_step) + " ms/step"
                       : ""));
    const bool run_done = stage_done && index + 1 == stages_.size();
    if (cfg_.stop_after_epochs > 0 && ++epochs_run_ == cfg_.stop_after_epochs && !run_done) {
      result_.stopped_early = true;
      return false;
    }
    if (!run_done && runner_->stop_agreed()) {
      result_.interrupted = interrupted_line(
          runner_->stop_reason(),
          "the end of " + stage.name + " epoch " + std::to_string(epoch + 1), last_path_);
      return false;
    }
  }
  result_.final_checkpoint = run_dir_ + "/" + stage.name + ".h5";
  ++result_.stages_run;
  return true;
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
  if (result_.stages_run == 0 && !result_.escaped && !result_.stopped_early &&
      result_.interrupted.empty()) {
    result_.eval =
        evaluate(*student_, data_.test, spec_, job_.place, cfg_.test_batch_size, job_.comm.get());
    result_.final_checkpoint = stages_.empty() ? "" : run_dir_ + "/" + stages_.back().name + ".h5";
    log::info("run '" + cfg_.run + "' had already finished all " + std::to_string(stages_.size()) +
              " stages");
  }
  return result_;
}

}  // namespace sisyphus::train
