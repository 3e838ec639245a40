#include "engine/run.h"

#include <torch/torch.h>

#include "core/format.h"
#include "core/fs.h"
#include "core/log.h"
#include "dist/reducer.h"
#include "engine/range_control.h"
#include "engine/sgd.h"
#include "nn/network.h"

namespace sisyphus::train {
namespace {

std::string ms_per_step(double seconds, int64_t steps) {
  return format_number("%.2f", 1000.0 * seconds / static_cast<double>(steps));
}

}  // namespace

Run::Run(const Job& job, RunSettings settings)
    : job_(job),
      s_(std::move(settings)),
      folder_(prepare_run_dir(job, s_.checkpoint_dir, s_.name, s_.resume)) {
  s_.runner.stop = &stop_;
  if (fs::file_exists(folder_.last_path)) last_good_ = folder_.last_path;
}

bool Run::has_checkpoint() const { return s_.resume && fs::file_exists(folder_.last_path); }

EpochStart Run::restore(const io::Checkpoint& ckpt, nn::NetworkImpl& net, const std::string& where,
                        const std::vector<std::string>& may_lack) {
  const std::string& path = folder_.last_path;
  for (const auto& name : io::load_module_state(net, ckpt.model, path, may_lack))
    log::info("resume: '" + path + "' predates " + name +
              " (AMM's biggest statistics stay unavailable)");
  set_rng_state({ckpt.rng_state, ckpt.cuda_rng_state}, job_.place);
  step_ = ckpt.meta.step;
  restored_ = true;
  log::info("resume: " + path + " after " + where + "epoch " + std::to_string(ckpt.meta.epoch) +
            (ckpt.meta.epoch_step > 0
                 ? " and " + std::to_string(ckpt.meta.epoch_step) + " steps of the next"
                 : "") +
            ", step " + std::to_string(step_));
  return epoch_start(ckpt, job_);
}

void Run::start(Splits data, const data::DatasetSpec& spec, const trace::TraceHeader& header,
                io::CheckpointMeta meta) {
  spec_ = &spec;
  data_ = std::move(data);
  meta_ = std::move(meta);
  const int64_t resume_step = restored_ ? step_ : -1;
  trace_ = std::make_unique<RunTrace>(job_, folder_.dir + "/trace.h5", header, resume_step,
                                      s_.trace_every, s_.trace_test);
  runner_ = std::make_unique<EpochRunner>(job_, data_, spec, *trace_, s_.runner);
  if (job_.rank == 0)
    metrics_ = std::make_unique<MetricsCsv>(folder_.dir + "/metrics.csv", resume_step);
  start_time_ = Clock::now();
}

StageOutcome Run::stage(const Stage& stage, const StageHooks& hooks, nn::NetworkImpl& net,
                        const Objective& objective) {
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net.named_parameters())
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, s_.optim);  // a fresh optimizer per stage, as the reference
  if (hooks.from.momentum && !hooks.from.momentum->empty())
    sgd.load_state(*hooks.from.momentum, folder_.last_path);
  dist::GradientReducer reducer(job_.comm, params, dist::reducer_options(s_.bucket_mb));
  int64_t trainable_count = 0;
  for (const auto& p : params) trainable_count += p.second.numel();
  log::info("[" + stage.name + "]" +
            (stage.kind == StageKind::kBaseline ? "" : " point " + net.points()[stage.point].name) +
            ": " + std::to_string(params.size()) + " trainable tensors (" +
            std::to_string(trainable_count) + " parameters), " + objective.describe(net) + ", " +
            std::to_string(stage.epochs) + " epoch(s)");

  const int64_t per_epoch = runner_->steps_per_epoch();
  const int64_t stage_steps = stage.epochs * per_epoch;
  int64_t epoch = hooks.from.epoch;
  if (hooks.schedule) hooks.schedule(epoch * per_epoch + hooks.from.within.epoch_step, stage_steps);
  const StepCheck guard = [&](const StepResult& r, int64_t, int64_t at,
                              bool signal) -> StepVerdict {
    const int64_t epoch_step = at - step_before_epoch_;
    if (hooks.schedule) hooks.schedule(epoch * per_epoch + epoch_step, stage_steps);
    const GuardReading g = check_escape(r.outputs, hooks.checked, r.loss, hooks.escape_bound,
                                        job_.comm.get(), r.grads_nonfinite, signal);
    if (!g.escaped) return {"", g.stop_signal};
    return {hooks.describe_escape(g, epoch, epoch_step, at), g.stop_signal};
  };
  const std::string label = stage.kind == StageKind::kBaseline ? "" : stage.name + " ";

  for (; epoch < stage.epochs; ++epoch) {
    const EpochPlan plan{stage.name, epoch, stage.epochs, cosine_lr(s_.optim, epoch, stage.epochs),
                         hooks.seed};
    const double sync_before_s = hooks.sync_time ? hooks.sync_time->seconds() : 0;
    const EpochStart from = epoch == hooks.from.epoch ? hooks.from.within : EpochStart{};
    step_before_epoch_ = step_ - from.epoch_step;
    EpochOutcome out =
        runner_->train(net, sgd, reducer, objective, plan, hooks.averaged, &step_, guard, from);
    if (!out.stopped.empty()) return {StageEnd::kEscaped, out.stopped, epoch};
    // the stage's record of `completed` epochs, with this epoch's sums and time
    auto record = [&](int64_t completed) {
      return EpochRecord{
          .stage = stage.name,
          .point = stage.kind == StageKind::kBaseline ? -1 : static_cast<int64_t>(stage.point),
          .epoch = completed,
          .epochs = stage.epochs,
          .step = step_,
          .lr = plan.lr,
          .loss_name = stage.mimic() ? "mse" : "loss",
          .sums = out.sums,
          .seconds = out.seconds,
          .eval = std::nullopt};
    };
    if (out.interrupted_at > 0) {  // a stop signal: the unfinished epoch's state, then exit
      const EpochRecord rec = record(epoch);  // the epochs before the unfinished one
      io::Checkpoint ckpt = unfinished_checkpoint(job_, meta_, rec, out.interrupted_at, net, sgd);
      if (job_.rank == 0) io::save_checkpoint(folder_.last_path, ckpt);
      return {StageEnd::kInterrupted,
              interrupted_line(runner_->stop_reason(),
                               label + "epoch " + std::to_string(epoch + 1) + " step " +
                                   std::to_string(out.interrupted_at),
                               folder_.last_path),
              epoch};
    }
    train_seconds_ += out.seconds;
    images_seen_ += out.sums.seen;
    if (const std::string r = range_report(net, s_.range, *job_.comm); !r.empty()) log::info(r);
    const double sync_s = hooks.sync_time ? hooks.sync_time->seconds() - sync_before_s : 0;

    EpochRecord rec = record(epoch + 1);
    if (!hooks.evaluation_due || hooks.evaluation_due(epoch)) {
      rec.eval = runner_->test(net, stage.name, hooks.eval_mode, epoch + 1, step_);
      last_eval_ = *rec.eval;
    }
    const bool stage_done = epoch + 1 == stage.epochs;
    const bool kept = stage_done && !hooks.keep_as.empty();
    // the row first: a kill between the two leaves a row the resumed run drops and writes again
    if (metrics_) metrics_->write(epoch_row(rec, seconds_since(start_time_)));
    if (job_.rank == 0) {
      io::save_checkpoint(folder_.last_path, epoch_checkpoint(meta_, rec, net, sgd, job_.place));
      if (kept) fs::copy_file_atomic(folder_.last_path, hooks.keep_as);  // the stage's result
    }
    last_good_ = kept ? hooks.keep_as : folder_.last_path;
    std::string extra =
        hooks.sync_time ? " | AMM/BN sync " + ms_per_step(sync_s, per_epoch) + " ms/step" : "";
    if (trace_->on()) extra += " | trace " + format_number("%.3f", trace_->seconds()) + " s";
    log::info(epoch_line(rec, seconds_since(start_time_), extra));
    ++epochs_run_;
    const bool run_done = stage_done && hooks.last;
    if (s_.stop_after_epochs > 0 && epochs_run_ == s_.stop_after_epochs && !run_done)
      return {StageEnd::kStoppedEarly, "", epoch};
    if (!run_done && runner_->stop_agreed())
      return {StageEnd::kInterrupted,
              interrupted_line(runner_->stop_reason(),
                               "the end of " + label + "epoch " + std::to_string(epoch + 1),
                               folder_.last_path),
              epoch};
  }
  return {StageEnd::kDone, "", stage.epochs - 1};
}

EvalResult Run::test(nn::NetworkImpl& net) const {
  return evaluate(net, data_.test, *spec_, job_.place, s_.runner.test_batch, job_.comm.get());
}

double Run::images_per_s() const {
  return train_seconds_ > 0 ? static_cast<double>(images_seen_) / train_seconds_ : 0;
}

}  // namespace sisyphus::train
