#include "commands/baseline.h"

#include <torch/torch.h>

#include <limits>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "engine/collectives.h"
#include "engine/epoch.h"
#include "engine/epoch_runner.h"
#include "engine/escape_guard.h"
#include "engine/job.h"
#include "engine/metrics.h"
#include "engine/range_control.h"
#include "engine/run_setup.h"
#include "engine/saved_network.h"
#include "engine/sgd.h"
#include "engine/tracing.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/registry.h"

namespace sisyphus::train {
namespace {

constexpr double kBaselineTraceBound = 1e6;  // "above" count threshold of baseline traces

struct ResumePoint {
  int64_t epoch = 0, step = 0;  // epochs and optimizer steps completed
  EpochStart within;            // inside epoch `epoch + 1` after a mid-epoch stop
};

// Continues from <run>/last.h5: model, momentum, RNG, position.
ResumePoint resume_baseline(const TrainConfig& cfg, const Job& job, const std::string& last_path,
                            nn::NetworkImpl& net, Sgd& sgd) {
  io::Checkpoint ckpt = io::load_checkpoint(last_path);
  if (ckpt.meta.network != cfg.network || ckpt.meta.dataset != cfg.dataset) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + last_path + "' holds " + ckpt.meta.network +
                                              " on " + ckpt.meta.dataset + ", not " + cfg.network +
                                              " on " + cfg.dataset);
  }
  if (ckpt.meta.activation != nn::activation_spec(net)) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + last_path + "' holds activation " +
                                              ckpt.meta.activation + ", this run trains " +
                                              nn::activation_spec(net));
  }
  io::load_module_state(net, ckpt.model, last_path);
  for (const auto& [kind, list] : ckpt.optimizer)
    if (kind == "momentum") sgd.load_state(list, last_path);
  set_rng_state({ckpt.rng_state, ckpt.cuda_rng_state}, job.place);
  log::info("resume: " + last_path + " after epoch " + std::to_string(ckpt.meta.epoch) +
            (ckpt.meta.epoch_step > 0
                 ? " and " + std::to_string(ckpt.meta.epoch_step) + " steps of the next"
                 : "") +
            ", step " + std::to_string(ckpt.meta.step));
  return {ckpt.meta.epoch, ckpt.meta.step, epoch_start(ckpt, job)};
}

// The network a run starts from: random weights for cfg's network and
// activation, or with --init a checkpoint's network, form and weights.
// `meta` gets the form (folded, BN) the run's checkpoints record.
nn::Network initial_network(const TrainConfig& cfg, const data::DatasetSpec& spec,
                            io::CheckpointMeta& meta) {
  if (cfg.init.empty()) {
    nn::Network net =
        nn::make_network(cfg.network, shape_of(spec, cfg.batchnorm), cfg.imagenet_stem);
    if (cfg.act != "relu") nn::set_activations(*net, cfg.act, probe_input(spec));
    return net;
  }
  SavedNetwork saved = load_saved_network(cfg.init);
  const io::CheckpointMeta& m = saved.ckpt.meta;
  if (m.network != cfg.network || m.dataset != cfg.dataset || m.imagenet_stem != cfg.imagenet_stem)
    SISYPHUS_FAIL(
        ErrorKind::kConfig,
        "bad value for --init: '" + cfg.init + "' holds " + m.network + " on " + m.dataset +
            ", this run names " + cfg.network + " on " + cfg.dataset +
            (m.imagenet_stem != cfg.imagenet_stem
                 ? std::string(", the ImageNet stem ") + (m.imagenet_stem ? "on" : "off") + " there"
                 : std::string()) +
            " (give --net and --dataset of the checkpoint)");
  if (cfg.act != "relu" && cfg.act != m.activation)
    SISYPHUS_FAIL(ErrorKind::kConfig, "bad value for --init: '" + cfg.init + "' has activation " +
                                          m.activation + ", --act says " + cfg.act +
                                          " (leave --act out to keep the checkpoint's)");
  if (!saved.missing.empty())
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "bad value for --init: '" + cfg.init + "' lacks tensor " + saved.missing.front());
  meta.folded = m.folded;
  meta.batchnorm = m.batchnorm;
  log::info("init: " + cfg.init + " (" + m.network + (m.folded ? ", folded" : "") +
            ", activation " + m.activation + ", stage " + m.stage + ")");
  return saved.net;
}

}  // namespace

BaselineResult train_baseline(TrainConfig cfg, const Job& job) {
  // SIGUSR1/SIGTERM from here on: stop at a step boundary with the state saved
  const StopSignal stop;
  resolve(cfg);

  // ---------------------------------------------------------------- ranks
  const std::string config_text = to_config_text(cfg);
  log::info("sisyphus train: resolved config (usable with --config):\n" + config_text);
  dist::check_same_config(*job.comm, config_text);
  log::info("ranks: " + std::to_string(job.world) + " (" + job.comm->backend() +
            " backend), global batch " + std::to_string(cfg.batch_size) + " split over the ranks" +
            (job.world > 1
                 ? std::string(cfg.sync_bn ? ", synchronised BN" : ", per-rank BN statistics")
                 : "") +
            ", " + std::to_string(torch::get_num_threads()) + " torch threads per rank");
  const data::DatasetSpec& spec = data::dataset_spec(cfg.dataset);

  // ---------------------------------------------------------------- run folder, data
  const RunFolder folder = prepare_run_dir(job, cfg.checkpoint_dir, cfg.run, cfg.resume);
  const std::string& run_dir = folder.dir;
  const std::string& last_path = folder.last_path;
  const Splits data = load_splits(spec, cfg.data_dir, cfg.train_limit, cfg.test_limit);
  log::info("data: " + spec.name + " train " + std::to_string(data.train.n) + " test " +
            std::to_string(data.test.n) + " images of " + std::to_string(spec.channels) + "x" +
            std::to_string(spec.size) + "x" + std::to_string(spec.size) + ", augmentation " +
            (cfg.augment ? data::augment_name(spec.train_augment) : "none"));

  // ---------------------------------------------------------------- model, optimizer, collectives
  torch::manual_seed(cfg.seed);  // same initial weights for the same seed
  io::CheckpointMeta meta =
      run_meta(cfg.network, cfg.dataset, spec, cfg.imagenet_stem, cfg.batchnorm, config_text);
  nn::Network net = initial_network(cfg, spec, meta);
  set_range_control(*net, cfg.range);
  place_module(*net, job.place);  // the job's device (a GPU per rank), NHWC with --channels-last
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, cfg.optim);
  dist::GradientReducer reducer(job.comm, params, dist::reducer_options(cfg.bucket_mb));
  const StatCollectives collectives = stat_collectives(job);
  attach(collectives, *net, {.batchnorm = cfg.sync_bn, .amm = true});
  // Without SyncBN each rank's BN statistics move with its own batch: they
  // are averaged after every step (weighted by the ranks' samples).
  const BufferFilter averaged =
      cfg.sync_bn ? BufferFilter() : [](const std::string&) { return true; };
  log::info("model: " + cfg.network + " with " + std::to_string(net->parameter_count()) +
            " parameters, " + std::to_string(net->points().size()) +
            " imitation points, activation " + nn::activation_spec(*net));

  ResumePoint start;
  const bool resumed = cfg.resume && fs::file_exists(last_path);
  if (resumed) {
    start = resume_baseline(cfg, job, last_path, *net, sgd);
  } else if (cfg.resume) {
    log::info("resume: no checkpoint at " + last_path + " yet, starting from " +
              (cfg.init.empty() ? std::string("scratch") : cfg.init));
  }
  dist::broadcast_state(*job.comm, *net);  // every rank starts from rank 0's state

  trace::TraceHeader theader{cfg.run, cfg.network, cfg.dataset,        config_text,
                             "",      {},          kBaselineTraceBound};
  for (const auto& p : net->points()) theader.layers.push_back(p.name);
  theader.sample_per_image = cfg.trace_sample;
  RunTrace trace(job, run_dir + "/trace.h5", theader, resumed ? start.step : -1, cfg.trace_every,
                 cfg.trace_test);
  EpochRunner runner(
      job, data, spec, trace,
      {cfg.run, cfg.batch_size, cfg.test_batch_size, cfg.augment, cfg.log_every, cfg.verify_ranks,
       /*keep_outputs=*/false, &stop});
  std::unique_ptr<MetricsCsv> metrics;  // rank 0 writes checkpoints, metrics and logs
  if (job.rank == 0)
    metrics = std::make_unique<MetricsCsv>(run_dir + "/metrics.csv", resumed ? start.step : -1);
  meta.activation = nn::activation_spec(*net);
  Objective objective = Objective::cross_entropy();
  objective.with_range_penalty(*net, cfg.range.penalty);
  // Stops the run on a non-finite loss on any rank (the verdict is reduced:
  // every rank stops at the same step).
  const StepCheck diverged = [&](const StepResult& r, int64_t, int64_t at,
                                 bool signal) -> StepVerdict {
    const GuardReading g = check_escape({}, 0, r.loss, std::numeric_limits<double>::infinity(),
                                        job.comm.get(), r.grads_nonfinite, signal);
    if (!g.escaped) return {"", g.stop_signal};
    return {
        std::string(g.grads ? "the gradients became NaN or Inf" : "the loss became NaN or Inf") +
            " at step " + std::to_string(at) + g.where() +
            (fs::file_exists(last_path) ? "; the last good checkpoint is " + last_path
                                        : "; no checkpoint was written before it"),
        g.stop_signal};
  };

  BaselineResult result;
  result.checkpoint = last_path;
  const auto run_start = Clock::now();
  int64_t images_seen = 0;
  double train_seconds = 0;
  int64_t step = start.step;
  for (int64_t epoch = start.epoch; epoch < cfg.epochs; ++epoch) {
    const EpochPlan plan{"baseline", epoch, cfg.epochs, cosine_lr(cfg.optim, epoch, cfg.epochs),
                         cfg.seed};
    EpochOutcome out = runner.train(*net, sgd, reducer, objective, plan, averaged, &step, diverged,
                                    epoch == start.epoch ? start.within : EpochStart{});
    if (!out.stopped.empty())
      SISYPHUS_FAIL(ErrorKind::kDiverged,
                    "epoch " + std::to_string(epoch + 1) + ": " + out.stopped);
    if (out.interrupted_at > 0) {  // a stop signal: the unfinished epoch's state, then exit
      const EpochRecord rec{.stage = "baseline",
                            .epoch = epoch,
                            .epochs = cfg.epochs,
                            .step = step,
                            .lr = plan.lr,
                            .loss_name = "loss",
                            .sums = out.sums,
                            .seconds = out.seconds};
      io::Checkpoint ckpt = unfinished_checkpoint(job, meta, rec, out.interrupted_at, *net, sgd);
      if (job.rank == 0) io::save_checkpoint(last_path, ckpt);
      result.interrupted = interrupted_line(
          runner.stop_reason(),
          "epoch " + std::to_string(epoch + 1) + " step " + std::to_string(out.interrupted_at),
          last_path);
      return result;
    }
    train_seconds += out.seconds;
    images_seen += out.sums.seen;
    if (const std::string r = range_report(*net, cfg.range, *job.comm); !r.empty()) log::info(r);

    EpochRecord rec{.stage = "baseline",
                    .epoch = epoch + 1,
                    .epochs = cfg.epochs,
                    .step = step,
                    .lr = plan.lr,
                    .loss_name = "loss",
                    .sums = out.sums,
                    .seconds = out.seconds,
                    .eval = runner.test(*net, "baseline", "-", epoch + 1, step)};
    result.eval = *rec.eval;
    ++result.epochs_run;
    // the row first: a kill between the two leaves a row the resumed run drops and writes again
    if (metrics) metrics->write(epoch_row(rec, seconds_since(run_start)));
    if (job.rank == 0)
      io::save_checkpoint(last_path, epoch_checkpoint(meta, rec, *net, sgd, job.place));
    log::info(epoch_line(rec, seconds_since(run_start)));
    if (epoch + 1 < cfg.epochs && runner.stop_agreed()) {
      result.interrupted = interrupted_line(
          runner.stop_reason(), "the end of epoch " + std::to_string(epoch + 1), last_path);
      return result;
    }
  }
  if (result.epochs_run == 0) {
    // Already finished: report the checkpoint's model on the test set.
    result.eval = evaluate(*net, data.test, spec, job.place, cfg.test_batch_size, job.comm.get());
    log::info("run '" + cfg.run + "' had already finished " + std::to_string(cfg.epochs) +
              " epochs");
  }
  result.images_per_s = train_seconds > 0 ? images_seen / train_seconds : 0;
  return result;
}

}  // namespace sisyphus::train
