// Training and data-loading throughput of sisyphus, for bench/run_train_bench.sh.
//
//   sisyphus_bench_train --mode train --net lenet --dataset fashion-mnist --steps 0
//   sisyphus_bench_train --mode load  --net resnet20 --dataset cifar10 --augment
//
// mode train: the real training step (train/step.h) fed by the real loader;
// mode load: the loader alone (read + augment + normalise + batch), no model.
// Prints one line: "sisyphus mode=... images=... seconds=... images_per_s=...".
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "nn/registry.h"
#include "train/baseline.h"
#include "train/sgd.h"
#include "train/step.h"

using namespace sisyphus;

int main(int argc, char** argv) {
  CLI::App app{"sisyphus training / loading benchmark"};
  std::string mode = "train", net_name = "lenet", dataset = "fashion-mnist", data_dir;
  int64_t batch_size = 128, steps = 0, warmup = 3;
  int threads = 1;
  bool augment = false;
  app.add_option("--mode", mode, "train or load")->check(CLI::IsMember({"train", "load"}));
  app.add_option("--net", net_name, "Network");
  app.add_option("--dataset", dataset, "Data set");
  app.add_option("--data-dir", data_dir, "Data folder (default: the data set's)");
  app.add_option("--batch-size", batch_size, "Batch size");
  app.add_option("--steps", steps, "Timed steps (0: one full epoch)");
  app.add_option("--warmup", warmup, "Untimed steps first");
  app.add_option("--threads", threads, "Torch intra-op threads");
  app.add_flag("--augment", augment, "Use the data set's training augmentation");
  CLI11_PARSE(app, argc, argv);

  try {
    train::set_torch_threads(threads);
    const data::DatasetSpec& spec = data::dataset_spec(dataset);
    data::ImageSet set = data::load_split(spec, data_dir.empty() ? spec.default_dir : data_dir, true);
    torch::manual_seed(42);
    nn::Network net = nn::make_network(net_name, {spec.channels, spec.size, spec.num_classes});
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
    train::OptimConfig ocfg;  // the paper's baseline optimizer
    train::Sgd sgd(params, ocfg);

    const int64_t per_epoch = (set.n + batch_size - 1) / batch_size;
    const int64_t timed = steps > 0 ? steps : per_epoch;
    int64_t done = 0, images = 0;
    double seconds = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t epoch = 0; done < warmup + timed; ++epoch) {
      data::LoaderOptions opts;
      opts.batch_size = batch_size;
      opts.augment = augment ? spec.train_augment : data::Augment::kNone;
      opts.epoch = epoch;
      data::BatchLoader loader(set, spec, data::epoch_order(set.n, 42, epoch, true), opts);
      data::Batch batch;
      while (done < warmup + timed && loader.next(&batch)) {
        if (done == warmup) t0 = std::chrono::steady_clock::now();
        if (mode == "train") train::train_step(*net, sgd, batch, 0.1);
        if (done >= warmup) images += batch.size();
        ++done;
      }
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("sisyphus mode=%s net=%s dataset=%s batch=%lld threads=%d images=%lld seconds=%.3f "
                "images_per_s=%.1f\n",
                mode.c_str(), net_name.c_str(), dataset.c_str(), static_cast<long long>(batch_size),
                threads, static_cast<long long>(images), seconds, images / seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sisyphus_bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
