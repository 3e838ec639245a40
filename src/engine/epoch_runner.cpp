#include "engine/epoch_runner.h"

#include "core/clock.h"
#include "core/log.h"
#include "data/sampler.h"
#include "dist/sync.h"
#include "engine/device.h"
#include "engine/metrics.h"
#include "engine/ranks.h"

namespace sisyphus::train {

EpochRunner::EpochRunner(const Job& job, const Splits& data, const data::DatasetSpec& spec,
                         RunTrace& trace, RunnerSettings settings)
    : job_(job), data_(data), spec_(spec), trace_(trace), s_(std::move(settings)) {}

int64_t EpochRunner::steps_per_epoch() const {
  return data::num_global_batches(data_.train.n, s_.global_batch);
}

EpochOutcome EpochRunner::train(nn::NetworkImpl& net, Sgd& sgd, dist::GradientReducer& reducer,
                                const Objective& objective, const EpochPlan& plan,
                                const BufferFilter& averaged, int64_t* step, const StepCheck& check,
                                const EpochStart& from) {
  std::unique_ptr<data::BatchLoader> loader =
      epoch_loader(data_.train, spec_, job_, s_.global_batch, s_.augment, plan.seed, plan.epoch,
                   from.epoch_step);
  DeviceFeed feed(*loader, spec_, job_.place);  // next batch copied while this one computes
  net.train();
  const auto start = Clock::now();
  const int64_t steps = steps_per_epoch();
  EpochOutcome out;
  out.sums = from.sums;
  for (int64_t epoch_step = from.epoch_step + 1; epoch_step <= steps; ++epoch_step) {
    data::Batch batch = feed.next();  // this rank's share of the global batch (possibly empty)
    const int64_t global_count =
        data::global_batch_count(data_.train.n, s_.global_batch, epoch_step - 1);
    const bool traced = trace_.due(*step + 1);
    StepResult r = train_step(net, sgd, batch, job_.place, plan.lr, objective, reducer,
                              global_count, s_.keep_outputs || traced);
    if (averaged) dist::average_buffers(*job_.comm, net, batch.size(), averaged);
    ++*step;
    const StepVerdict verdict = check ? check(r, batch.size(), *step, stop_signal_here())
                                      : StepVerdict{"", epoch_step < steps && stop_agreed()};
    out.stopped = verdict.stopped;
    if (traced || (!out.stopped.empty() &&
                   !r.outputs.empty())) {  // a stop is traced when its outputs are kept
      trace_.accumulator().add(r.outputs, batch.size());
      trace_.record(s_.run, plan.stage, "train", "batch", plan.epoch + 1, *step);
    }
    if (!out.stopped.empty()) break;
    out.sums.add(r.loss, r.correct, batch.size());
    if (s_.log_every > 0 && epoch_step % s_.log_every == 0) {
      const double rate = static_cast<double>((out.sums.seen - from.sums.seen) * job_.world) /
                          seconds_since(start);  // rank 0's view
      const double remaining = static_cast<double>((plan.epochs - plan.epoch) * data_.train.n -
                                                   out.sums.seen * job_.world) /
                               rate;
      log::info(progress_line(plan.stage, plan.epoch + 1, plan.epochs, epoch_step, steps,
                              out.sums.mean_loss(), out.sums.accuracy(), plan.lr, rate, remaining));
    }
    // A stop signal ends the epoch at this step on every rank; at its last
    // step the epoch ends as usual and the caller stops after its checkpoint.
    if (epoch_step < steps && verdict.stop_signal) {
      out.interrupted_at = epoch_step;
      break;
    }
  }
  out.seconds = from.seconds + seconds_since(start);
  if (!out.stopped.empty() || out.interrupted_at > 0) return out;
  sum_over_ranks(job_, &out.sums);
  if (s_.verify_ranks)
    verify_ranks(*job_.comm, net, plan.stage + " epoch " + std::to_string(plan.epoch + 1));
  return out;
}

bool EpochRunner::stop_signal_here() const { return s_.stop && s_.stop->received() != 0; }

bool EpochRunner::stop_agreed() const {
  if (!s_.stop) return false;
  torch::Tensor seen = torch::tensor({stop_signal_here() ? 1.0 : 0.0}, torch::kFloat64);
  if (job_.comm->communicates()) job_.comm->all_reduce(seen, dist::ReduceOp::kMax);
  return seen.item<double>() > 0;
}

std::string EpochRunner::stop_reason() const {
  const std::string name = s_.stop ? s_.stop->name() : "";
  return name.empty() ? "a stop signal on another rank" : name;
}

EvalResult EpochRunner::test(nn::NetworkImpl& net, const std::string& stage,
                             const std::string& mode, int64_t epoch, int64_t step) {
  // Traced only when the test set is (--no-trace-test: no statistics computed at all).
  const bool traced = trace_.traces_test();
  EvalResult r = evaluate(net, data_.test, spec_, job_.place, s_.test_batch, job_.comm.get(),
                          traced ? &trace_.accumulator() : nullptr);
  if (traced) trace_.record(s_.run, stage, "eval", mode, epoch, step);
  return r;
}

}  // namespace sisyphus::train
