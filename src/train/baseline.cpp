#include "train/baseline.h"

#include <torch/torch.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/communicator.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "io/checkpoint.h"
#include "nn/batchnorm.h"
#include "nn/registry.h"
#include "train/epoch.h"
#include "train/job.h"
#include "train/metrics.h"
#include "train/tracing.h"
#include "train/sgd.h"
#include "train/step.h"

namespace sisyphus::train {
namespace {

constexpr double kBaselineTraceBound = 1e6;  // "above" count threshold of baseline traces

}  // namespace

BaselineResult train_baseline(TrainConfig cfg) {
  resolve(cfg);

  // ---------------------------------------------------------------- ranks
  Job job = start_job(cfg.backend, cfg.threads, cfg.dev);
  std::shared_ptr<dist::Communicator> comm = job.comm;
  const int rank = job.rank, world = job.world;
  const std::string config_text = to_config_text(cfg);
  log::info("sisyphus train: resolved config (usable with --config):\n" + config_text);
  dist::check_same_config(*comm, config_text);
  log::info("ranks: " + std::to_string(world) + " (" + comm->backend() + " backend), batch " +
            std::to_string(cfg.batch_size) + " per rank, " + std::to_string(cfg.batch_size * world) +
            " global, " + std::to_string(torch::get_num_threads()) + " torch threads per rank");
  const data::DatasetSpec& spec = data::dataset_spec(cfg.dataset);

  // ---------------------------------------------------------------- run folder
  const std::string run_dir = cfg.checkpoint_dir + "/" + cfg.run;
  const std::string last_path = prepare_run_dir(job, cfg.checkpoint_dir, cfg.run, cfg.resume);

  // ---------------------------------------------------------------- data
  auto [train_set, test_set] = load_splits(spec, cfg.data_dir, cfg.train_limit, cfg.test_limit);
  log::info("data: " + spec.name + " train " + std::to_string(train_set.n) + " test " +
            std::to_string(test_set.n) + " images of " + std::to_string(spec.channels) + "x" +
            std::to_string(spec.size) + "x" + std::to_string(spec.size) + ", augmentation " +
            (cfg.augment ? data::augment_name(spec.train_augment) : "none"));

  // ---------------------------------------------------------------- model + optimizer
  torch::manual_seed(cfg.seed);  // same initial weights for the same seed
  nn::Network net = nn::make_network(cfg.network, shape_of(spec, cfg.batchnorm), cfg.imagenet_stem);
  place_module(*net, job.place);  // the job's device (a GPU per rank), NHWC with --channels-last
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, cfg.optim);
  std::unique_ptr<dist::GradientReducer> reducer;
  if (world > 1) {
    reducer = std::make_unique<dist::GradientReducer>(comm, params, dist::reducer_options(cfg.bucket_mb));
  }
  const bool sync_bn = world > 1 && cfg.sync_bn;
  nn::set_batchnorm_sync(sync_bn ? nn::AllReduceSum([comm](torch::Tensor& t) {
    comm->all_reduce(t, dist::ReduceOp::kSum);
  })
                                 : nn::AllReduceSum());
  log::info("model: " + cfg.network + " with " + std::to_string(net->parameter_count()) +
            " parameters, " + std::to_string(net->points().size()) + " imitation points");

  // ---------------------------------------------------------------- resume
  int64_t start_epoch = 0;
  int64_t step = 0;
  if (cfg.resume && fs::file_exists(last_path)) {
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
  dist::broadcast_state(*comm, *net);  // every rank starts from rank 0's state

  trace::TraceHeader theader{cfg.run, cfg.network, cfg.dataset, config_text, "", {}, kBaselineTraceBound};
  for (const auto& p : net->points()) theader.layers.push_back(p.name);
  RunTrace trace(job, run_dir + "/trace.h5", theader, cfg.resume, cfg.trace_every);
  std::unique_ptr<MetricsCsv> metrics;  // rank 0 writes checkpoints, metrics and logs
  if (rank == 0) metrics = std::make_unique<MetricsCsv>(run_dir + "/metrics.csv");
  BaselineResult result;
  result.checkpoint = last_path;
  const int64_t global_batch = cfg.batch_size * world;
  const int64_t steps_per_epoch = (train_set.n + global_batch - 1) / global_batch;
  const auto run_start = Clock::now();
  int64_t images_seen = 0;
  double train_seconds = 0;

  for (int64_t epoch = start_epoch; epoch < cfg.epochs; ++epoch) {
    // ------------------------------------------------------------ one epoch
    const double lr = cosine_lr(cfg.optim, epoch, cfg.epochs);
    std::unique_ptr<data::BatchLoader> loader =
        epoch_loader(train_set, spec, job, cfg.batch_size, cfg.augment, cfg.seed, epoch);
    DeviceFeed feed(*loader, spec, job.place);  // next batch copied while this one computes
    net->train();
    const auto epoch_start = Clock::now();
    EpochSums sums;
    for (int64_t epoch_step = 1; epoch_step <= steps_per_epoch; ++epoch_step) {
      // fetch -> forward -> loss -> backward -> all-reduce -> update -> sync buffers
      data::Batch batch = feed.next();  // empty when this rank's shard ran out
      const bool traced = trace.due(step + 1);
      std::vector<torch::Tensor> outputs;
      StepResult sr = train_step(
          *net, sgd, batch, job.place, lr, reducer.get(),
          data::global_batch_count(train_set.n, world, cfg.batch_size, epoch_step - 1), sync_bn,
          traced ? &outputs : nullptr);
      // Synchronised BN already leaves identical statistics on every rank.
      if (world > 1 && !sync_bn) dist::average_buffers(*comm, *net, batch.size());
      ++step;
      if (traced) {
        trace.accumulator().add(outputs, batch.size());
        trace.record(cfg.run, "baseline", "train", "batch", epoch + 1, step);
      }

      if (batch.size() > 0 && !std::isfinite(sr.loss)) {
        SISYPHUS_FAIL(ErrorKind::kDiverged, "loss became " + std::to_string(sr.loss) +
                                                " in epoch " + std::to_string(epoch + 1) +
                                                " at step " + std::to_string(step) +
                                                "; the last good checkpoint is " + last_path);
      }
      sums.add(sr.loss, sr.correct, batch.size());
      if (cfg.log_every > 0 && epoch_step % cfg.log_every == 0) {
        double elapsed = seconds_since(epoch_start);
        double rate = static_cast<double>(sums.seen * world) / elapsed;  // rank 0's view of the job
        double remaining =
            static_cast<double>((cfg.epochs - epoch) * train_set.n - sums.seen * world) / rate;
        log::info(progress_line("baseline", epoch + 1, cfg.epochs, epoch_step, steps_per_epoch,
                                sums.mean_loss(), sums.accuracy(), lr, rate, remaining));
      }
    }
    sum_over_ranks(job, &sums);  // epoch figures over all ranks
    const double epoch_seconds = seconds_since(epoch_start);
    train_seconds += epoch_seconds;
    images_seen += sums.seen;

    if (world > 1 && cfg.verify_ranks) verify_ranks(*comm, *net, "epoch " + std::to_string(epoch + 1));

    // ------------------------------------------------------------ evaluate
    EvalResult eval = evaluate(*net, test_set, spec, job.place, cfg.test_batch_size, comm.get(), &trace.accumulator());
    trace.record(cfg.run, "baseline", "eval", "-", epoch + 1, step);
    result.eval = eval;
    ++result.epochs_run;

    // ------------------------------------------------------------ checkpoint
    io::Checkpoint ckpt;
    ckpt.meta = run_meta(cfg.network, cfg.dataset, spec, cfg.imagenet_stem, cfg.batchnorm, config_text);
    ckpt.meta.stage = "baseline";
    ckpt.meta.epoch = epoch + 1;
    ckpt.meta.step = step;
    ckpt.meta.test_acc = eval.accuracy();
    ckpt.meta.test_acc_finite = eval.finite_accuracy();
    ckpt.meta.test_nonfinite = eval.nonfinite;
    ckpt.meta.test_loss = eval.mean_loss();
    ckpt.model = io::module_state(*net);
    ckpt.optimizer.emplace_back("momentum", sgd.state());
    ckpt.rng_state = rng_state();
    if (rank == 0) io::save_checkpoint(last_path, ckpt);

    EpochRow row{"baseline",       epoch + 1,       step,
                 lr,               sums.mean_loss(), sums.accuracy(),
                 eval.mean_loss(), eval.accuracy(),  eval.finite_accuracy(), sums.seen / epoch_seconds,
                 seconds_since(run_start)};
    if (metrics) metrics->write(row);
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
    result.eval = evaluate(*net, test_set, spec, job.place, cfg.test_batch_size, comm.get());
    log::info("run '" + cfg.run + "' had already finished " + std::to_string(cfg.epochs) + " epochs");
  }
  result.images_per_s = train_seconds > 0 ? images_seen / train_seconds : 0;
  return result;
}

}  // namespace sisyphus::train
