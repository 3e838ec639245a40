#include "commands/baseline.h"

#include <torch/torch.h>

#include "core/error.h"
#include "core/log.h"
#include "dist/sync.h"
#include "engine/collectives.h"
#include "engine/epoch.h"
#include "engine/job.h"
#include "engine/range_control.h"
#include "engine/run.h"
#include "engine/run_setup.h"
#include "io/checkpoint.h"
#include "model/saved_network.h"
#include "nn/act_spec.h"
#include "nn/registry.h"

namespace sisyphus::train {
namespace {

constexpr double kBaselineTraceBound = 1e6;  // "above" count threshold of baseline traces

// Checks that <run>/last.h5 holds this run's network, data set and activation.
void check_resumable(const TrainConfig& cfg, const io::Checkpoint& ckpt,
                     const std::string& last_path, const nn::NetworkImpl& net) {
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
  resolve(cfg);

  // ---------------------------------------------------------------- ranks
  const std::string config_text = to_config_text(cfg);
  log::info("sisyphus train: resolved config (usable with --config):\n" + config_text);
  dist::check_same_config(*job.comm, config_text);
  log::info("ranks: " + std::to_string(job.world) + " (" + job.comm->backend() +
            " backend), global batch " + std::to_string(cfg.data.batch_size) +
            " split over the ranks" +
            (job.comm->communicates()
                 ? std::string(cfg.ranks.sync_bn ? ", synchronised BN" : ", per-rank BN statistics")
                 : "") +
            ", " + std::to_string(torch::get_num_threads()) + " torch threads per rank");
  const data::DatasetSpec& spec = data::dataset_spec(cfg.dataset);

  // ---------------------------------------------------------------- run folder, data
  Run run(job, run_settings(cfg, /*keep_outputs=*/false));
  Splits data = load_splits(spec, cfg.data.dir, cfg.data.train_limit, cfg.data.test_limit);
  log::info("data: " + spec.name + " train " + std::to_string(data.train.n) + " test " +
            std::to_string(data.test.n) + " images of " + std::to_string(spec.channels) + "x" +
            std::to_string(spec.size) + "x" + std::to_string(spec.size) + ", augmentation " +
            (cfg.data.augment ? data::augment_name(spec.train_augment) : "none"));

  // ---------------------------------------------------------------- model, collectives
  torch::manual_seed(cfg.seed);  // same initial weights for the same seed
  io::CheckpointMeta meta =
      run_meta(cfg.network, cfg.dataset, spec, cfg.imagenet_stem, cfg.batchnorm, config_text);
  nn::Network net = initial_network(cfg, spec, meta);
  set_range_control(*net, cfg.range);
  place_module(*net, job.place);  // the job's device (a GPU per rank), NHWC with --channels-last
  const StatCollectives collectives = stat_collectives(job);
  attach(collectives, *net, {.batchnorm = cfg.ranks.sync_bn, .amm = true});
  log::info("model: " + cfg.network + " with " + std::to_string(net->parameter_count()) +
            " parameters, " + std::to_string(net->points().size()) +
            " imitation points, activation " + nn::activation_spec(*net));

  const Stage stage = baseline_stage(cfg.epochs);
  StageHooks hooks;
  io::Checkpoint last;  // the checkpoint resumed from (its momentum)
  if (run.has_checkpoint()) {
    last = io::load_checkpoint(run.last_path());
    check_resumable(cfg, last, run.last_path(), *net);
    hooks.from = {last.meta.epoch, run.restore(last, *net, ""), nullptr};
    for (const auto& [kind, list] : last.optimizer)
      if (kind == "momentum") hooks.from.momentum = &list;
  } else if (cfg.output.resume) {
    log::info("resume: no checkpoint at " + run.last_path() + " yet, starting from " +
              (cfg.init.empty() ? std::string("scratch") : cfg.init));
  }
  dist::broadcast_state(*job.comm, *net);  // every rank starts from rank 0's state

  trace::TraceHeader theader{cfg.output.run,     cfg.network, cfg.dataset, config_text, "", {},
                             kBaselineTraceBound};
  for (const auto& p : net->points()) theader.layers.push_back(p.name);
  theader.sample_per_image = cfg.output.trace_sample;
  meta.activation = nn::activation_spec(*net);
  run.start(std::move(data), spec, theader, meta);

  Objective objective = Objective::cross_entropy();
  objective.with_range_penalty(*net, cfg.range.penalty);
  hooks.seed = cfg.seed;
  // Without SyncBN each rank's BN statistics move with its own batch: they
  // are averaged after every step (weighted by the ranks' samples).
  if (!cfg.ranks.sync_bn) hooks.averaged = [](const std::string&) { return true; };
  // A non-finite loss or gradient on any rank stops the run (the verdict is
  // reduced: every rank stops at the same step).
  hooks.describe_escape = [&](const GuardReading& g, int64_t, int64_t, int64_t at) {
    return std::string(g.grads ? "the gradients became NaN or Inf" : "the loss became NaN or Inf") +
           " at step " + std::to_string(at) + g.where() +
           (run.last_good().empty() ? "; no checkpoint was written before it"
                                    : "; the last good checkpoint is " + run.last_good());
  };

  BaselineResult result;
  result.checkpoint = run.last_path();
  const StageOutcome out = run.stage(stage, hooks, *net, objective);
  switch (out.end) {
    case StageEnd::kEscaped:
      SISYPHUS_FAIL(ErrorKind::kDiverged,
                    "epoch " + std::to_string(out.epoch + 1) + ": " + out.message);
    case StageEnd::kInterrupted:
      result.interrupted = out.message;
      break;
    case StageEnd::kDone:
    case StageEnd::kStoppedEarly:
      break;
  }
  result.epochs_run = run.epochs_run();
  result.eval = run.last_eval();
  if (out.end == StageEnd::kDone && result.epochs_run == 0) {
    // Already finished: report the checkpoint's model on the test set.
    result.eval = run.test(*net);
    log::info("run '" + cfg.output.run + "' had already finished " + std::to_string(cfg.epochs) +
              " epochs");
  }
  result.images_per_s = run.images_per_s();
  return result;
}

}  // namespace sisyphus::train
