#include "train/quail.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/registry.h"
#include "train/epoch.h"
#include "train/escape_guard.h"
#include "train/job.h"
#include "train/metrics.h"
#include "train/quail_stage.h"
#include "train/sgd.h"
#include "train/tracing.h"

namespace sisyphus::train {
namespace {

std::string format_number(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

// The teacher: a trained ReLU network, frozen, in evaluation mode.
nn::Network load_teacher(const io::Checkpoint& ckpt, const std::string& path,
                         const data::DatasetSpec& spec) {
  if (ckpt.meta.activation != "relu") {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "teacher '" + path + "' has activation " +
                                              ckpt.meta.activation +
                                              "; QuaIL imitates a ReLU network (a `sisyphus train` checkpoint)");
  }
  nn::Network net = nn::make_network(ckpt.meta.network, shape_of(spec, ckpt.meta.batchnorm),
                                     ckpt.meta.imagenet_stem);
  io::load_module_state(*net, ckpt.model, path);
  for (auto& p : net->parameters()) p.set_requires_grad(false);
  net->eval();
  return net;
}

// Where a (resumed) run starts: stage index and epochs already done in it.
struct Position {
  size_t stage = 0;
  int64_t epoch = 0;
};

}  // namespace

QuailResult run_quail(QuailConfig cfg) {
  resolve(cfg);
  Job job = start_job(cfg.backend, cfg.threads, cfg.dev);
  std::shared_ptr<dist::Communicator> comm = job.comm;
  const int rank = job.rank, world = job.world;

  // ---------------------------------------------------------------- teacher and student
  io::Checkpoint teacher_ckpt = io::load_checkpoint(cfg.teacher);
  const io::CheckpointMeta& tmeta = teacher_ckpt.meta;
  const data::DatasetSpec& spec = data::dataset_spec(tmeta.dataset);
  if (cfg.data_dir.empty()) cfg.data_dir = spec.default_dir;
  const std::string student_act = (cfg.amm ? "amm+" : "") + cfg.act;
  nn::check_activation_spec(student_act);
  if (cfg.run.empty()) {
    std::string act_name = cfg.act.substr(0, cfg.act.find(':'));
    cfg.run = tmeta.network + "-" + tmeta.dataset + "-quail-" + act_name + (cfg.amm ? "-amm" : "");
  }
  const std::string config_text = to_config_text(cfg);
  log::info("sisyphus quail: resolved config (usable with --config):\n" + config_text);
  dist::check_same_config(*comm, config_text);

  nn::Network teacher = load_teacher(teacher_ckpt, cfg.teacher, spec);
  nn::Network student = nn::make_network(tmeta.network, shape_of(spec, tmeta.batchnorm), tmeta.imagenet_stem);
  io::load_module_state(*student, teacher_ckpt.model, cfg.teacher);  // the student starts as the teacher
  nn::set_activations(*student, student_act, probe_input(spec));
  place_module(*teacher, job.place);
  place_module(*student, job.place);
  if (cfg.amm_sync) install_amm_sync(job);
  else nn::set_amm_sync({});  // measurement mode: per-rank statistics
  const size_t num_points = student->points().size();
  const std::vector<Stage> stages = plan_stages(num_points, cfg.mimic_epochs, cfg.finetune_epochs);
  log::info("quail: teacher " + cfg.teacher + " (" + tmeta.network + " on " + tmeta.dataset + ", test acc " +
            format_number("%.2f%%", tmeta.test_acc * 100) + "); student activation " +
            nn::activation_spec(*student) + "; " + std::to_string(num_points) + " imitation points, " +
            std::to_string(stages.size()) + " stages; " + std::to_string(world) + " rank(s), batch " +
            std::to_string(cfg.batch_size) + " per rank");

  // ---------------------------------------------------------------- run folder, resume
  const std::string run_dir = cfg.checkpoint_dir + "/" + cfg.run;
  const std::string last_path = prepare_run_dir(job, cfg.checkpoint_dir, cfg.run, cfg.resume);
  Position start;
  int64_t step = 0;
  io::TensorList resume_momentum;
  if (cfg.resume && fs::file_exists(last_path)) {
    io::Checkpoint ckpt = io::load_checkpoint(last_path);
    if (ckpt.meta.network != tmeta.network || ckpt.meta.activation != nn::activation_spec(*student)) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + last_path + "' holds " + ckpt.meta.network + " with " +
                                                ckpt.meta.activation + ", this run trains " + tmeta.network +
                                                " with " + nn::activation_spec(*student));
    }
    size_t s = 0;
    while (s < stages.size() && stages[s].name != ckpt.meta.stage) ++s;
    if (s == stages.size()) {
      SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + last_path + "' is at stage '" + ckpt.meta.stage +
                                                "', which this run's stages do not have");
    }
    io::load_module_state(*student, ckpt.model, last_path);
    if (ckpt.rng_state.defined()) set_rng_state(ckpt.rng_state);
    step = ckpt.meta.step;
    if (ckpt.meta.epoch >= stages[s].epochs) {
      start = {s + 1, 0};
    } else {
      start = {s, ckpt.meta.epoch};
      for (const auto& [kind, list] : ckpt.optimizer)
        if (kind == "momentum") resume_momentum = list;
    }
    log::info("resume: " + last_path + " after " + ckpt.meta.stage + " epoch " +
              std::to_string(ckpt.meta.epoch) + ", step " + std::to_string(step));
  } else if (cfg.resume) {
    log::info("resume: no checkpoint at " + last_path + " yet, starting from the teacher");
  }
  dist::broadcast_state(*comm, *student);
  student->set_frozen_eval(cfg.frozen_eval);
  if (nn::has_amm(*student) && cfg.mimic_epochs == 0 && cfg.frozen_eval) {
    // With --frozen-eval, fine-tune stages keep the earlier points' AMM in
    // inference mode: those need estimates, which only a mimic stage gives.
    for (const auto& item : student->named_buffers())
      if (item.key().find(".amm.num_batches_tracked") != std::string::npos && item.value().item<int64_t>() == 0)
        SISYPHUS_FAIL(ErrorKind::kConfig, "bad value for --mimic-epochs: 0 leaves AMM layer " + item.key() +
                                              " without running estimates for the frozen fine-tune stages; "
                                              "use --mimic-epochs 1 or more");
  }

  // ---------------------------------------------------------------- data
  auto [train_set, test_set] = load_splits(spec, cfg.data_dir, cfg.train_limit, cfg.test_limit);
  const int64_t global_batch = cfg.batch_size * world;
  const int64_t steps_per_epoch = (train_set.n + global_batch - 1) / global_batch;

  trace::TraceHeader theader{cfg.run, tmeta.network, tmeta.dataset, config_text, "", {}, cfg.escape_bound};
  for (const auto& p : student->points()) theader.layers.push_back(p.name);
  RunTrace trace(job, run_dir + "/trace.h5", theader, cfg.resume, cfg.trace_every);
  const std::string eval_mode = nn::has_amm(*student) ? "amm" : "-";
  std::unique_ptr<MetricsCsv> metrics;
  if (rank == 0) metrics = std::make_unique<MetricsCsv>(run_dir + "/metrics.csv");
  QuailResult result;
  std::string last_good = fs::file_exists(last_path) ? last_path : "none yet (the teacher " + cfg.teacher + ")";
  const auto run_start = Clock::now();
  int64_t epochs_run = 0;

  for (size_t s = start.stage; s < stages.size(); ++s) {
    const Stage& stage = stages[s];
    const std::string& point_name = student->points()[stage.point].name;
    student->set_trainable_points(stage_trainable(stage, num_points));
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : student->named_parameters())
      if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
    Sgd sgd(params, cfg.optim);
    if (s == start.stage && !resume_momentum.empty()) sgd.load_state(resume_momentum, last_path);
    std::unique_ptr<dist::GradientReducer> reducer;
    if (world > 1) {
      reducer = std::make_unique<dist::GradientReducer>(comm, params, dist::reducer_options(cfg.bucket_mb));
    }
    // BN statistics that moved this step are averaged over the ranks: every
    // point's (the whole student trains in training mode, as the reference),
    // or with --frozen-eval the trainable points' only (frozen buffers stay
    // bit for bit). AMM's estimates are already global (synchronised min/max).
    std::vector<std::string> moving_names;
    if (cfg.frozen_eval) {
      moving_names = student->trainable_tensor_names();
    } else {
      for (const auto& item : student->named_buffers()) moving_names.push_back(item.key());
    }
    std::set<std::string> averaged;
    for (const auto& n : moving_names)
      if (n.find(".amm.") == std::string::npos || !cfg.amm_sync) averaged.insert(n);
    auto include = [&averaged](const std::string& name) { return averaged.count(name) > 0; };
    int64_t trainable_count = 0;
    for (const auto& p : params) trainable_count += p.second.numel();
    log::info("[" + stage.name + "] point " + point_name + ": " + std::to_string(params.size()) +
              " trainable tensors (" + std::to_string(trainable_count) + " parameters), " +
              (stage.mimic ? "MSE to the teacher's output" : "cross-entropy") + ", " +
              std::to_string(stage.epochs) + " epoch(s)");
    const uint64_t stage_seed = derive_seed(cfg.seed, s + 1);
    const int64_t first_epoch = s == start.stage ? start.epoch : 0;

    for (int64_t epoch = first_epoch; epoch < stage.epochs; ++epoch) {
      const double lr = cosine_lr(cfg.optim, epoch, stage.epochs);
      std::unique_ptr<data::BatchLoader> loader =
          epoch_loader(train_set, spec, job, cfg.batch_size, cfg.augment, stage_seed, epoch);
      DeviceFeed feed(*loader, spec, job.place);  // next batch copied while this one computes
      student->train();
      const auto epoch_start = Clock::now();
      const SyncTime sync_before = amm_sync_time();
      EpochSums sums;
      for (int64_t epoch_step = 1; epoch_step <= steps_per_epoch; ++epoch_step) {
        data::Batch batch = feed.next();
        StageStepResult sr = stage_step(
            stage, *student, *teacher, sgd, batch, job.place, lr, reducer.get(),
            data::global_batch_count(train_set.n, world, cfg.batch_size, epoch_step - 1));
        if (world > 1) dist::average_buffers(*comm, *student, batch.size(), include);
        ++step;
        // the escape guard: the trained region's outputs and the loss, over all ranks
        const size_t checked = stage.mimic ? stage.point + 1 : num_points;
        GuardReading g = check_escape(sr.outputs, checked, sr.loss, cfg.escape_bound, comm.get());
        if (trace.due(step) || g.escaped) {  // an escape is always traced
          trace.accumulator().add(sr.outputs, batch.size());
          trace.record(cfg.run, stage.name, "train", "batch", epoch + 1, step);
        }
        if (g.escaped) {
          std::string what = g.point < 0 ? "the loss is " + format_number("%g", g.value)
                                          : "the output of point " + student->points()[static_cast<size_t>(g.point)].name +
                                                " has max |x| = " + format_number("%g", g.value);
          result.escaped = true;
          result.escape_message = "escape guard: stage " + stage.name + " (point " + point_name + "), epoch " +
                                  std::to_string(epoch + 1) + " step " + std::to_string(epoch_step) +
                                  " (global step " + std::to_string(step) + "): " + what + " (bound " +
                                  format_number("%g", cfg.escape_bound) + "); last good checkpoint: " + last_good;
          if (!cfg.continue_on_escape) SISYPHUS_FAIL(ErrorKind::kDiverged, result.escape_message);
          log::info(result.escape_message + "; --continue-on-escape: this run ends here");
          if (rank == 0) {
            std::FILE* f = std::fopen((run_dir + "/escaped.txt").c_str(), "w");
            if (f) {
              std::fprintf(f, "%s\n", result.escape_message.c_str());
              std::fclose(f);
            }
          }
          return result;
        }
        sums.add(sr.loss, sr.correct, batch.size());
        if (cfg.log_every > 0 && epoch_step % cfg.log_every == 0) {
          double rate = static_cast<double>(sums.seen * world) / seconds_since(epoch_start);
          double remaining = static_cast<double>((stage.epochs - epoch) * train_set.n - sums.seen * world) / rate;
          log::info(progress_line(stage.name, epoch + 1, stage.epochs, epoch_step, steps_per_epoch,
                                  sums.mean_loss(), sums.accuracy(), lr, rate, remaining));
        }
      }
      sum_over_ranks(job, &sums);
      const double epoch_seconds = seconds_since(epoch_start);
      const SyncTime sync_after = amm_sync_time();
      if (world > 1 && cfg.verify_ranks) verify_ranks(*comm, *student, stage.name + " epoch " + std::to_string(epoch + 1));
      // Tested only where it means something (--evaluate); other epochs
      // store NaN test figures.
      const bool evaluated = evaluation_due(cfg.evaluate, stages, s, epoch);
      EvalResult eval;
      if (evaluated) {
        eval = evaluate(*student, test_set, spec, job.place, cfg.test_batch_size, comm.get(), &trace.accumulator());
        trace.record(cfg.run, stage.name, "eval", eval_mode, epoch + 1, step);
        result.eval = eval;
      }
      const double nan = std::numeric_limits<double>::quiet_NaN();
      const double test_acc = evaluated ? eval.accuracy() : nan, test_acc_finite = evaluated ? eval.finite_accuracy() : nan,
                   test_loss = evaluated ? eval.mean_loss() : nan;

      io::Checkpoint ckpt;
      ckpt.meta = run_meta(tmeta.network, tmeta.dataset, spec, tmeta.imagenet_stem, tmeta.batchnorm, config_text);
      ckpt.meta.stage = stage.name;
      ckpt.meta.point = static_cast<int64_t>(stage.point);
      ckpt.meta.epoch = epoch + 1;
      ckpt.meta.stage_epochs = stage.epochs;
      ckpt.meta.step = step;
      ckpt.meta.test_acc = test_acc;
      ckpt.meta.test_acc_finite = test_acc_finite;
      ckpt.meta.test_loss = test_loss;
      ckpt.meta.test_nonfinite = eval.nonfinite;
      ckpt.meta.train_loss = sums.mean_loss();
      ckpt.meta.activation = nn::activation_spec(*student);
      ckpt.meta.teacher = cfg.teacher;
      ckpt.model = io::module_state(*student);
      ckpt.optimizer.emplace_back("momentum", sgd.state());
      ckpt.rng_state = rng_state();
      const bool stage_done = epoch + 1 == stage.epochs;
      const std::string stage_path = run_dir + "/" + stage.name + ".h5";
      if (rank == 0) {
        io::save_checkpoint(last_path, ckpt);
        if (stage_done) fs::copy_file_atomic(last_path, stage_path);  // the stage's result, kept
      }
      last_good = stage_done ? stage_path : last_path;

      EpochRow row{stage.name,       epoch + 1,       step,
                   lr,               sums.mean_loss(), sums.accuracy(),
                   test_loss,        test_acc,         test_acc_finite, sums.seen / epoch_seconds,
                   seconds_since(run_start)};
      if (metrics) metrics->write(row);
      const double sync_ms_per_step = 1000.0 * (sync_after.seconds - sync_before.seconds) /
                                      static_cast<double>(steps_per_epoch);
      char test_part[128];
      if (evaluated) {
        std::snprintf(test_part, sizeof(test_part), "test acc %.2f%% (%lld non-finite)", row.test_acc * 100,
                      static_cast<long long>(eval.nonfinite));
      } else {
        std::snprintf(test_part, sizeof(test_part), "test: not evaluated (--evaluate %s)", cfg.evaluate.c_str());
      }
      char line[400];
      std::snprintf(line, sizeof(line),
                    "[%s] point %s epoch %lld/%lld done: train %s %.5g acc %.2f%% | %s | %.0f img/s%s",
                    stage.name.c_str(), point_name.c_str(), static_cast<long long>(epoch + 1),
                    static_cast<long long>(stage.epochs), stage.mimic ? "mse" : "loss", row.train_loss,
                    row.train_acc * 100, test_part, row.images_per_s,
                    nn::has_amm(*student) && world > 1
                        ? (", AMM sync " + format_number("%.2f", sync_ms_per_step) + " ms/step").c_str()
                        : "");
      log::info(line);
      if (cfg.stop_after_epochs > 0 && ++epochs_run == cfg.stop_after_epochs &&
          !(stage_done && s + 1 == stages.size())) {
        result.stopped_early = true;
        return result;
      }
    }
    result.final_checkpoint = run_dir + "/" + stage.name + ".h5";
    ++result.stages_run;
  }
  student->set_trainable_points({});
  if (result.stages_run == 0) {
    result.eval = evaluate(*student, test_set, spec, job.place, cfg.test_batch_size, comm.get());
    result.final_checkpoint = stages.empty() ? "" : run_dir + "/" + stages.back().name + ".h5";
    log::info("run '" + cfg.run + "' had already finished all " + std::to_string(stages.size()) + " stages");
  }
  return result;
}

}  // namespace sisyphus::train
