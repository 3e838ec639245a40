#include "train/baseline.h"

#include <sys/stat.h>
#include <torch/torch.h>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "io/checkpoint.h"
#include "nn/registry.h"
#include "train/metrics.h"
#include "train/sgd.h"
#include "train/step.h"

namespace sisyphus::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void make_dirs(const std::string& path) {
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && !file_exists(partial) && mkdir(partial.c_str(), 0755) != 0 &&
          !file_exists(partial)) {
        SISYPHUS_FAIL(ErrorKind::kIo, "cannot create folder '" + partial + "'");
      }
    }
    if (i < path.size()) partial += path[i];
  }
}

torch::Tensor rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

nn::NetShape shape_of(const data::DatasetSpec& spec) {
  return nn::NetShape{spec.channels, spec.size, spec.num_classes};
}

}  // namespace

void set_torch_threads(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  static bool interop_set = false;  // may be set only once per process
  if (!interop_set) {
    torch::set_num_interop_threads(1);
    interop_set = true;
  }
}

BaselineResult train_baseline(TrainConfig cfg) {
  resolve(cfg);
  set_torch_threads(cfg.threads);
  const std::string config_text = to_config_text(cfg);
  log::info("sisyphus train: resolved config (usable with --config):\n" + config_text);
  const data::DatasetSpec& spec = data::dataset_spec(cfg.dataset);

  // ---------------------------------------------------------------- run folder
  const std::string run_dir = cfg.checkpoint_dir + "/" + cfg.run;
  const std::string last_path = run_dir + "/last.h5";
  make_dirs(run_dir);
  if (!cfg.resume && file_exists(last_path)) {
    SISYPHUS_FAIL(ErrorKind::kConfig, "run '" + cfg.run + "' already has a checkpoint (" +
                                          last_path +
                                          "); pass --resume to continue it or --run to start "
                                          "another run");
  }

  // ---------------------------------------------------------------- data
  data::ImageSet train_set = data::load_split(spec, cfg.data_dir, /*train=*/true);
  data::ImageSet test_set = data::load_split(spec, cfg.data_dir, /*train=*/false);
  train_set.truncate(cfg.train_limit);
  test_set.truncate(cfg.test_limit);
  log::info("data: " + spec.name + " train " + std::to_string(train_set.n) + " test " +
            std::to_string(test_set.n) + " images of " + std::to_string(spec.channels) + "x" +
            std::to_string(spec.size) + "x" + std::to_string(spec.size) + ", augmentation " +
            (cfg.augment ? data::augment_name(spec.train_augment) : "none"));

  // ---------------------------------------------------------------- model + optimizer
  torch::manual_seed(cfg.seed);  // same initial weights for the same seed
  nn::Network net = nn::make_network(cfg.network, shape_of(spec), cfg.imagenet_stem);
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, cfg.optim);
  log::info("model: " + cfg.network + " with " + std::to_string(net->parameter_count()) +
            " parameters, " + std::to_string(net->points().size()) + " imitation points");

  // ---------------------------------------------------------------- resume
  int64_t start_epoch = 0;
  int64_t step = 0;
  if (cfg.resume && file_exists(last_path)) {
    io::Checkpoint ckpt = io::load_checkpoint(last_path);
    if (ckpt.meta.network != cfg.network || ckpt.meta.dataset != cfg.dataset) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + last_path + "' holds " + ckpt.meta.network +
                                                " on " + ckpt.meta.dataset + ", not " +
                                                cfg.network + " on " + cfg.dataset);
    }
    io::load_module_state(*net, ckpt.model, last_path);
    for (const auto& [kind, list] : ckpt.optimizer)
      if (kind == "momentum") sgd.load_state(list, last_path);
    if (ckpt.rng_state.defined()) set_rng_state(ckpt.rng_state);
    start_epoch = ckpt.meta.epoch;
    step = ckpt.meta.step;
    log::info("resume: " + last_path + " after epoch " + std::to_string(start_epoch) + ", step " +
              std::to_string(step));
  } else if (cfg.resume) {
    log::info("resume: no checkpoint at " + last_path + " yet, starting from scratch");
  }

  MetricsCsv metrics(run_dir + "/metrics.csv");
  BaselineResult result;
  result.checkpoint = last_path;
  const int64_t steps_per_epoch = (train_set.n + cfg.batch_size - 1) / cfg.batch_size;
  const auto run_start = Clock::now();
  int64_t images_seen = 0;
  double train_seconds = 0;

  for (int64_t epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    // ------------------------------------------------------------ one epoch
    const double lr = cosine_lr(cfg.optim, epoch, cfg.epochs);
    data::LoaderOptions opts;
    opts.batch_size = cfg.batch_size;
    opts.augment = cfg.augment ? spec.train_augment : data::Augment::kNone;
    opts.seed = cfg.seed;
    opts.epoch = epoch;
    data::BatchLoader loader(train_set, spec,
                             data::epoch_order(train_set.n, cfg.seed, epoch, /*shuffle=*/true), opts);
    net->train();
    const auto epoch_start = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, epoch_step = 0;
    data::Batch batch;
    while (loader.next(&batch)) {
      // fetch -> forward -> loss -> backward -> update
      StepResult sr = train_step(*net, sgd, batch, lr);
      ++step;
      ++epoch_step;

      const double batch_loss = sr.loss;
      if (!std::isfinite(batch_loss)) {
        SISYPHUS_FAIL(ErrorKind::kDiverged, "loss became " + std::to_string(batch_loss) +
                                                " in epoch " + std::to_string(epoch + 1) +
                                                " at step " + std::to_string(step) +
                                                "; the last good checkpoint is " + last_path);
      }
      loss_sum += batch_loss * static_cast<double>(batch.size());
      correct += sr.correct;
      seen += batch.size();
      if (cfg.log_every > 0 && epoch_step % cfg.log_every == 0) {
        double elapsed = seconds_since(epoch_start);
        double rate = static_cast<double>(seen) / elapsed;
        double remaining = static_cast<double>((cfg.epochs - epoch) * train_set.n - seen) / rate;
        log::info(progress_line("baseline", epoch + 1, cfg.epochs, epoch_step, steps_per_epoch,
                                loss_sum / seen, static_cast<double>(correct) / seen, lr, rate,
                                remaining));
      }
    }
    const double epoch_seconds = seconds_since(epoch_start);
    train_seconds += epoch_seconds;
    images_seen += seen;

    // ------------------------------------------------------------ evaluate
    EvalResult eval = evaluate(*net, test_set, spec, cfg.test_batch_size);
    result.eval = eval;
    ++result.epochs_run;

    // ------------------------------------------------------------ checkpoint
    io::Checkpoint ckpt;
    ckpt.meta.network = cfg.network;
    ckpt.meta.dataset = cfg.dataset;
    ckpt.meta.stage = "baseline";
    ckpt.meta.epoch = epoch + 1;
    ckpt.meta.step = step;
    ckpt.meta.config = config_text;
    ckpt.meta.config_hash = config_hash(config_text);
    ckpt.meta.test_acc = eval.accuracy();
    ckpt.meta.test_loss = eval.mean_loss();
    ckpt.meta.num_classes = spec.num_classes;
    ckpt.meta.in_channels = spec.channels;
    ckpt.meta.image_size = spec.size;
    ckpt.meta.imagenet_stem = cfg.imagenet_stem;
    ckpt.model = io::module_state(*net);
    ckpt.optimizer.emplace_back("momentum", sgd.state());
    ckpt.rng_state = rng_state();
    io::save_checkpoint(last_path, ckpt);

    EpochRow row{"baseline", epoch + 1, step, lr, loss_sum / seen,
                 static_cast<double>(correct) / seen, eval.mean_loss(), eval.accuracy(),
                 seen / epoch_seconds, seconds_since(run_start)};
    metrics.write(row);
    char line[256];
    std::snprintf(line, sizeof(line),
                  "[baseline] epoch %lld/%lld done: train loss %.4f acc %.2f%% | test loss %.4f "
                  "acc %.2f%% | %.0f img/s | %s",
                  static_cast<long long>(epoch + 1), static_cast<long long>(cfg.epochs),
                  row.train_loss, row.train_acc * 100, row.test_loss, row.test_acc * 100,
                  row.images_per_s, log::format_duration(row.elapsed_s).c_str());
    log::info(line);
  }
  if (result.epochs_run == 0) {
    // Already finished: report the checkpoint's model on the test set.
    result.eval = evaluate(*net, test_set, spec, cfg.test_batch_size);
    log::info("run '" + cfg.run + "' had already finished " + std::to_string(cfg.epochs) + " epochs");
  }
  result.images_per_s = train_seconds > 0 ? images_seen / train_seconds : 0;
  return result;
}

EvalResult evaluate_checkpoint(const EvalConfig& cfg) {
  set_torch_threads(cfg.threads);
  io::Checkpoint ckpt = io::load_checkpoint(cfg.checkpoint);
  const data::DatasetSpec& spec = data::dataset_spec(ckpt.meta.dataset);
  if (ckpt.meta.in_channels != spec.channels || ckpt.meta.image_size != spec.size ||
      ckpt.meta.num_classes != spec.num_classes) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "'" + cfg.checkpoint + "' was written for other input shapes than " + spec.name);
  }
  nn::Network net = nn::make_network(ckpt.meta.network, shape_of(spec), ckpt.meta.imagenet_stem);
  io::load_module_state(*net, ckpt.model, cfg.checkpoint);
  data::ImageSet test_set =
      data::load_split(spec, cfg.data_dir.empty() ? spec.default_dir : cfg.data_dir, false);
  test_set.truncate(cfg.test_limit);
  return evaluate(*net, test_set, spec, cfg.batch_size);
}

}  // namespace sisyphus::train
