#include "engine/epoch.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/log.h"
#include "data/sampler.h"
#include "settings/config.h"

namespace sisyphus::train {

std::unique_ptr<data::BatchLoader> epoch_loader(const data::ImageSet& set,
                                                const data::DatasetSpec& spec, const Job& job,
                                                int64_t global_batch, bool augment, uint64_t seed,
                                                int64_t epoch, int64_t first_batch) {
  data::LoaderOptions opts;
  opts.augment = augment ? spec.train_augment : data::Augment::kNone;
  opts.seed = seed;
  opts.epoch = epoch;
  opts.pin_memory = job.place.cuda();  // asynchronous host->device copies (DeviceFeed)
  std::vector<int64_t> order = data::epoch_order(set.n, seed, epoch, /*shuffle=*/true);
  return std::make_unique<data::BatchLoader>(
      set, spec,
      data::drop_first_batches(data::shard_batches(order, job.rank, job.world, global_batch),
                               first_batch),
      opts);
}

void EpochSums::add(double mean_loss, int64_t batch_correct, int64_t batch_size) {
  loss_sum += mean_loss * static_cast<double>(batch_size);
  correct += batch_correct;
  seen += batch_size;
}

double EpochSums::mean_loss() const {
  return loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
}

double EpochSums::accuracy() const {
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
}

void sum_over_ranks(const Job& job, EpochSums* sums) {
  if (!job.comm->communicates()) return;
  torch::Tensor t = torch::tensor(
      {sums->loss_sum, static_cast<double>(sums->correct), static_cast<double>(sums->seen)},
      torch::kFloat64);
  job.comm->all_reduce(t, dist::ReduceOp::kSum);
  sums->loss_sum = t[0].item<double>();
  sums->correct = static_cast<int64_t>(t[1].item<double>());
  sums->seen = static_cast<int64_t>(t[2].item<double>());
}

torch::Tensor gather_sums(const Job& job, const EpochSums& sums) {
  torch::Tensor mine = torch::tensor(
      {sums.loss_sum, static_cast<double>(sums.correct), static_cast<double>(sums.seen)},
      torch::kFloat64);
  return job.comm->all_gather(mine).reshape({job.world, 3});
}

EpochStart epoch_start(const io::Checkpoint& ckpt, const Job& job) {
  EpochStart start;
  start.epoch_step = ckpt.meta.epoch_step;
  if (start.epoch_step == 0) return start;
  start.seconds = ckpt.meta.partial_seconds;
  const torch::Tensor& all = ckpt.partial_sums;  // [ranks that wrote it, 3]
  torch::Tensor mine;
  if (all.size(0) == job.world) {
    mine = all[job.rank];
  } else if (job.rank == 0) {
    mine = all.sum(0);
  } else {
    mine = torch::zeros({3}, torch::kFloat64);
  }
  start.sums.loss_sum = mine[0].item<double>();
  start.sums.correct = static_cast<int64_t>(mine[1].item<double>());
  start.sums.seen = static_cast<int64_t>(mine[2].item<double>());
  return start;
}

io::CheckpointMeta run_meta(const std::string& network, const std::string& dataset,
                            const data::DatasetSpec& spec, bool imagenet_stem, bool batchnorm,
                            const std::string& config_text) {
  io::CheckpointMeta m;
  m.network = network;
  m.dataset = dataset;
  m.config = config_text;
  m.config_hash = config_hash(config_text);
  m.num_classes = spec.num_classes;
  m.in_channels = spec.channels;
  m.image_size = spec.size;
  m.imagenet_stem = imagenet_stem;
  m.batchnorm = batchnorm;
  return m;
}

io::Checkpoint epoch_checkpoint(const io::CheckpointMeta& run, const EpochRecord& rec,
                                const nn::NetworkImpl& net, const Sgd& sgd,
                                const Placement& place) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  io::Checkpoint ckpt;
  ckpt.meta = run;
  ckpt.meta.stage = rec.stage;
  ckpt.meta.point = rec.point;
  ckpt.meta.epoch = rec.epoch;
  ckpt.meta.stage_epochs = rec.epochs;
  ckpt.meta.step = rec.step;
  ckpt.meta.test_acc = rec.eval ? rec.eval->accuracy() : nan;
  ckpt.meta.test_acc_finite = rec.eval ? rec.eval->finite_accuracy() : nan;
  ckpt.meta.test_loss = rec.eval ? rec.eval->mean_loss() : nan;
  ckpt.meta.test_nonfinite = rec.eval ? rec.eval->nonfinite : 0;
  ckpt.meta.train_loss = rec.sums.mean_loss();
  ckpt.model = io::module_state(net);
  ckpt.optimizer.emplace_back("momentum", sgd.state());
  const RngState rng = rng_state(place);
  ckpt.rng_state = rng.cpu;
  ckpt.cuda_rng_state = rng.cuda;
  return ckpt;
}

io::Checkpoint unfinished_checkpoint(const Job& job, const io::CheckpointMeta& run,
                                     const EpochRecord& rec, int64_t epoch_step,
                                     const nn::NetworkImpl& net, const Sgd& sgd) {
  torch::Tensor sums = gather_sums(job, rec.sums);
  io::Checkpoint ckpt = epoch_checkpoint(run, rec, net, sgd, job.place);
  ckpt.meta.epoch_step = epoch_step;
  ckpt.meta.partial_seconds = rec.seconds;
  ckpt.partial_sums = sums;
  return ckpt;
}

EpochRow epoch_row(const EpochRecord& rec, double elapsed_s) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  return EpochRow{
      .stage = rec.stage,
      .epoch = rec.epoch,
      .step = rec.step,
      .lr = rec.lr,
      .train_loss = rec.sums.mean_loss(),
      .train_acc = rec.sums.accuracy(),
      .test_loss = rec.eval ? rec.eval->mean_loss() : nan,
      .test_acc = rec.eval ? rec.eval->accuracy() : nan,
      .test_acc_finite = rec.eval ? rec.eval->finite_accuracy() : nan,
      .images_per_s = rec.seconds > 0 ? static_cast<double>(rec.sums.seen) / rec.seconds : 0,
      .elapsed_s = elapsed_s};
}

std::string epoch_line(const EpochRecord& rec, double elapsed_s, const std::string& extra) {
  char test[160];
  if (rec.eval) {
    std::snprintf(test, sizeof(test),
                  "test acc %.2f%% over all, %.2f%% over the finite (%lld non-finite)",
                  rec.eval->accuracy() * 100, rec.eval->finite_accuracy() * 100,
                  static_cast<long long>(rec.eval->nonfinite));
  } else {
    std::snprintf(test, sizeof(test), "test: not evaluated");
  }
  char line[512];
  std::snprintf(line, sizeof(line),
                "[%s] epoch %lld/%lld done: train %s %.5g acc %.2f%% | %s | %.0f img/s | %s%s",
                rec.stage.c_str(), static_cast<long long>(rec.epoch),
                static_cast<long long>(rec.epochs), rec.loss_name.c_str(), rec.sums.mean_loss(),
                rec.sums.accuracy() * 100, test,
                rec.seconds > 0 ? static_cast<double>(rec.sums.seen) / rec.seconds : 0.0,
                log::format_duration(elapsed_s).c_str(), extra.c_str());
  return line;
}

std::string interrupted_line(const std::string& reason, const std::string& where,
                             const std::string& checkpoint) {
  return "stopped on " + reason + " at " + where + "; the state is in " + checkpoint +
         ": continue with --resume";
}

}  // namespace sisyphus::train
