#include "train/epoch.h"

#include <torch/torch.h>

#include <algorithm>

#include "data/sampler.h"
#include "train/config.h"

namespace sisyphus::train {

std::unique_ptr<data::BatchLoader> epoch_loader(const data::ImageSet& set, const data::DatasetSpec& spec,
                                                const Job& job, int64_t batch_size, bool augment,
                                                uint64_t seed, int64_t epoch) {
  data::LoaderOptions opts;
  opts.batch_size = batch_size;
  opts.augment = augment ? spec.train_augment : data::Augment::kNone;
  opts.seed = seed;
  opts.epoch = epoch;
  opts.pin_memory = job.place.cuda();  // asynchronous host->device copies (DeviceFeed)
  std::vector<int64_t> order = data::epoch_order(set.n, seed, epoch, /*shuffle=*/true);
  return std::make_unique<data::BatchLoader>(set, spec, data::shard_batches(order, job.rank, job.world, batch_size),
                                             opts);
}

void EpochSums::add(double mean_loss, int64_t batch_correct, int64_t batch_size) {
  loss_sum += mean_loss * static_cast<double>(batch_size);
  correct += batch_correct;
  seen += batch_size;
}

double EpochSums::mean_loss() const { return loss_sum / static_cast<double>(std::max<int64_t>(seen, 1)); }

double EpochSums::accuracy() const {
  return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
}

void sum_over_ranks(const Job& job, EpochSums* sums) {
  if (job.world == 1) return;
  torch::Tensor t = torch::tensor({sums->loss_sum, static_cast<double>(sums->correct), static_cast<double>(sums->seen)},
                                  torch::kFloat64);
  job.comm->all_reduce(t, dist::ReduceOp::kSum);
  sums->loss_sum = t[0].item<double>();
  sums->correct = static_cast<int64_t>(t[1].item<double>());
  sums->seen = static_cast<int64_t>(t[2].item<double>());
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

}  // namespace sisyphus::train
