#include "train/quail.h"

#include <torch/torch.h>

#include <cstdio>
#include <set>

#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/rng.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "io/checkpoint.h"
#include "nn/act_spec.h"
#include "nn/amm.h"
#include "nn/registry.h"
#include "train/collectives.h"
#include "train/epoch.h"
#include "train/epoch_runner.h"
#include "train/escape_guard.h"
#include "train/job.h"
#include "train/metrics.h"
#include "train/objective.h"
#include "train/quail_stage.h"
#include "train/range_control.h"
#include "train/run_setup.h"
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
    SISYPHUS_FAIL(ErrorKind::kCheckpoint,
                  "teacher '" + path + "' has activation " + ckpt.meta.activation +
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
  EpochStart within;  // inside that epoch after a mid-epoch stop
};

// One QuaIL run: the student, the teacher and everything the stages share.
class QuailRun {
 public:
  QuailRun(QuailConfig& cfg, Job& job, const io::Checkpoint& teacher_ckpt);

  // The paper's steps 2 and 3 (step 1, the ReLU baseline, is the teacher).
  // Each returns false when the run ends early (escape, --stop-after-epochs).
  bool mimic_layer(size_t l) {
    Objective o = Objective::imitation(*teacher_, l, cfg_.mimic_forward == "to-point");
    return run_stage(stage_index(true, l), o.with_range_penalty(*student_, cfg_.range.penalty));
  }
  bool fine_tune_from(size_t l) {
    Objective o = Objective::cross_entropy();
    return run_stage(stage_index(false, l), o.with_range_penalty(*student_, cfg_.range.penalty));
  }

  // Progressive replacement instead of steps 2 and 3 (--method): every
  // planned stage in order, each with cross-entropy.
  bool replace_stages() {
    for (size_t i = 0; i < stages_.size(); ++i)
      if (!run_stage(i, replacement_objective())) return false;
    return true;
  }

  size_t num_points() const { return student_->points().size(); }
  QuailResult finish();

 private:
  // Index in stages_ of the stage of this kind at point l; stages_.size()
  // when the kind has 0 epochs (not planned).
  size_t stage_index(bool mimic, size_t l) const;
  bool run_stage(size_t index, const Objective& objective);
  Objective replacement_objective() {
    Objective o = Objective::cross_entropy();
    return o.with_range_penalty(*student_, cfg_.range.penalty);
  }
  // The slots' blend for a replacement stage (-1 everywhere otherwise):
  // progressive, slots up to the stage's point polynomial and the rest ReLU;
  // blend, every slot at `t`.
  void set_blends(const Stage& stage, double t);
  void resume_from(const std::string& path);
  BufferFilter averaged_buffers() const;

  QuailConfig& cfg_;
  Job& job_;
  const io::CheckpointMeta tmeta_;
  const data::DatasetSpec& spec_;
  nn::Network teacher_, student_;
  std::vector<Stage> stages_;
  StatCollectives collectives_;
  RunFolder folder_;  // locked for the run's life
  std::string config_text_, run_dir_, last_path_, last_good_;
  Splits data_;
  std::unique_ptr<RunTrace> trace_;
  const StopSignal stop_;  // SIGUSR1/SIGTERM: stop at a step boundary with the state saved
  std::unique_ptr<EpochRunner> runner_;
  std::unique_ptr<MetricsCsv> metrics_;
  io::CheckpointMeta meta_;
  Position start_;
  int64_t step_ = 0, epochs_run_ = 0;
  int64_t step_before_epoch_ = 0;  // for the escape message's step within the epoch
  io::TensorList resume_momentum_;
  Clock::time_point run_start_ = Clock::now();
  QuailResult result_;
};

QuailRun::QuailRun(QuailConfig& cfg, Job& job, const io::Checkpoint& teacher_ckpt)
    : cfg_(cfg),
      job_(job),
      tmeta_(teacher_ckpt.meta),
      spec_(data::dataset_spec(teacher_ckpt.meta.dataset)) {
  if (cfg_.data_dir.empty()) cfg_.data_dir = spec_.default_dir;
  const std::string student_act = (cfg_.amm ? "amm+" : "") + cfg_.act;
  nn::check_activation_spec(student_act);
  if (cfg_.run.empty()) {
    std::string act_name = cfg_.act.substr(0, cfg_.act.find(':'));
    cfg_.run = tmeta_.network + "-" + tmeta_.dataset + "-quail-" + act_name +
               (cfg_.amm ? "-amm" : "") + (cfg_.method == "imitate" ? "" : "-" + cfg_.method);
  }
  config_text_ = to_config_text(cfg_);
  log::info("sisyphus quail: resolved config (usable with --config):\n" + config_text_);
  dist::check_same_config(*job_.comm, config_text_);

  // The student starts as a copy of the teacher with polynomial activations.
  // torch's generator is seeded as in `train`: whatever draws from it (the
  // probe input, dropout) is the same in every run with the same seed, and
  // the RNG state that checkpoints carry is reproducible.
  torch::manual_seed(cfg_.seed);
  teacher_ = load_teacher(teacher_ckpt, cfg_.teacher, spec_);
  student_ =
      nn::make_network(tmeta_.network, shape_of(spec_, tmeta_.batchnorm), tmeta_.imagenet_stem);
  io::load_module_state(*student_, teacher_ckpt.model, cfg_.teacher);
  nn::set_activations(*student_, student_act, probe_input(spec_));
  set_range_control(*student_, cfg_.range);
  place_module(*teacher_, job_.place);
  place_module(*student_, job_.place);
  collectives_ = stat_collectives(job_);
  attach(collectives_, *student_, {.batchnorm = cfg_.sync_bn, .amm = cfg_.amm_sync});
  if (cfg_.method == "imitate") {
    stages_ = plan_stages(num_points(), cfg_.mimic_epochs, cfg_.finetune_epochs);
  } else {
    std::vector<size_t> slotted;
    for (size_t l = 0; l < num_points(); ++l)
      if (!student_->points()[l].slot.is_empty()) slotted.push_back(l);
    stages_ = plan_replacement(cfg_.method, slotted, cfg_.replace_epochs);
  }
  log::info("quail: teacher " + cfg_.teacher + " (" + tmeta_.network + " on " + tmeta_.dataset +
            ", test acc " + format_number("%.2f%%", tmeta_.test_acc * 100) +
            "); student activation " + nn::activation_spec(*student_) + "; " +
            std::to_string(num_points()) + " imitation points, " + std::to_string(stages_.size()) +
            " stages; " + std::to_string(job_.world) + " rank(s), global batch " +
            std::to_string(cfg_.batch_size));

  folder_ = prepare_run_dir(job_, cfg_.checkpoint_dir, cfg_.run, cfg_.resume);
  run_dir_ = folder_.dir;
  last_path_ = folder_.last_path;
  const bool resumed = cfg_.resume && fs::file_exists(last_path_);
  if (resumed) {
    resume_from(last_path_);
  } else if (cfg_.resume) {
    log::info("resume: no checkpoint at " + last_path_ + " yet, starting from the teacher");
  }
  dist::broadcast_state(*job_.comm, *student_);
  student_->set_frozen_eval(cfg_.frozen_eval);
  if (nn::has_amm(*student_) && cfg_.mimic_epochs == 0 && cfg_.frozen_eval) {
    // With --frozen-eval, fine-tune stages keep the earlier points' AMM in
    // inference mode: those need estimates, which only a mimic stage gives.
    for (const auto& item : student_->named_buffers())
      if (item.key().find(".amm.num_batches_tracked") != std::string::npos &&
          item.value().item<int64_t>() == 0)
        SISYPHUS_FAIL(ErrorKind::kConfig,
                      "bad value for --mimic-epochs: 0 leaves AMM layer " + item.key() +
                          " without running estimates for the frozen fine-tune stages; "
                          "use --mimic-epochs 1 or more");
  }

  data_ = load_splits(spec_, cfg_.data_dir, cfg_.train_limit, cfg_.test_limit);
  trace::TraceHeader theader{cfg_.run, tmeta_.network,   tmeta_.dataset, config_text_, "",
                             {},       cfg_.escape_bound};
  for (const auto& p : student_->points()) theader.layers.push_back(p.name);
  theader.sample_per_image = cfg_.trace_sample;
  trace_ = std::make_unique<RunTrace>(job_, run_dir_ + "/trace.h5", theader, resumed ? step_ : -1,
                                      cfg_.trace_every, cfg_.trace_test);
  runner_ = std::make_unique<EpochRunner>(
      job_, data_, spec_, *trace_,
      RunnerSettings{cfg_.run, cfg_.batch_size, cfg_.test_batch_size, cfg_.augment, cfg_.log_every,
                     cfg_.verify_ranks, /*keep_outputs=*/true, &stop_});
  if (job_.rank == 0)
    metrics_ = std::make_unique<MetricsCsv>(run_dir_ + "/metrics.csv", resumed ? step_ : -1);
  meta_ = run_meta(tmeta_.network, tmeta_.dataset, spec_, tmeta_.imagenet_stem, tmeta_.batchnorm,
                   config_text_);
  meta_.activation = nn::activation_spec(*student_);
  meta_.teacher = cfg_.teacher;
  last_good_ =
      fs::file_exists(last_path_) ? last_path_ : "none yet (the teacher " + cfg_.teacher + ")";
}

void QuailRun::resume_from(const std::string& path) {
  io::Checkpoint ckpt = io::load_checkpoint(path);
  if (ckpt.meta.network != tmeta_.network ||
      ckpt.meta.activation != nn::activation_spec(*student_)) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + path + "' holds " + ckpt.meta.network + " with " +
                                              ckpt.meta.activation + ", this run trains " +
                                              tmeta_.network + " with " +
                                              nn::activation_spec(*student_));
  }
  size_t s = 0;
  while (s < stages_.size() && stages_[s].name != ckpt.meta.stage) ++s;
  if (s == stages_.size()) {
    SISYPHUS_FAIL(ErrorKind::kCheckpoint, "'" + path + "' is at stage '" + ckpt.meta.stage +
                                              "', which this run's stages do not have");
  }
  for (const auto& name :
       io::load_module_state(*student_, ckpt.model, path, nn::amm_later_buffers()))
    log::info("resume: '" + path + "' predates " + name +
              " (AMM's biggest statistics stay unavailable)");
  set_rng_state({ckpt.rng_state, ckpt.cuda_rng_state}, job_.place);
  step_ = ckpt.meta.step;
  if (ckpt.meta.epoch >= stages_[s].epochs) {
    start_ = {s + 1, 0, {}};
    // A kill between the stage's last checkpoint and its copy: the copy now.
    const std::string stage_path = run_dir_ + "/" + stages_[s].name + ".h5";
    if (job_.rank == 0 && !fs::file_exists(stage_path)) {
      fs::copy_file_atomic(path, stage_path);
      log::info("resume: " + stage_path + " was missing (the run was stopped before copying it); " +
                "copied from " + path);
    }
  } else {
    start_ = {s, ckpt.meta.epoch, epoch_start(ckpt, job_)};
    for (const auto& [kind, list] : ckpt.optimizer)
      if (kind == "momentum") resume_momentum_ = list;
  }
  log::info("resume: " + path + " after " + ckpt.meta.stage + " epoch " +
            std::to_string(ckpt.meta.epoch) +
            (ckpt.meta.epoch_step > 0
                 ? " and " + std::to_string(ckpt.meta.epoch_step) + " steps of the next"
                 : "") +
            ", step " + std::to_string(step_));
}

size_t QuailRun::stage_index(bool mimic, size_t l) const {
  size_t index = 0;
  while (index < stages_.size() && !(stages_[index].mimic() == mimic && stages_[index].point == l))
    ++index;
  return index;
}

// Buffers that move in a step and that no synchronised layer keeps
// identical: averaged over the ranks after every step. The whole student
// trains in training mode (the reference), so every point's buffers move;
// with --frozen-eval only the trainable points' do.
BufferFilter QuailRun::averaged_buffers() const {
  std::vector<std::string> moving;
  if (cfg_.frozen_eval) {
    moving = student_->trainable_tensor_names();
  } else {
    for (const auto& item : student_->named_buffers()) moving.push_back(item.key());
  }
  auto names = std::make_shared<std::set<std::string>>();
  for (const auto& n : moving) {
    const bool amm = n.find(".amm.") != std::string::npos;
    if (amm ? !cfg_.amm_sync : !cfg_.sync_bn) names->insert(n);
  }
  if (names->empty()) return nullptr;
  return [names](const std::string& name) { return names->count(name) > 0; };
}

bool QuailRun::run_stage(size_t index, const Objective& objective) {
  if (index == stages_.size() || index < start_.stage)
    return true;  // not planned, or done before a resume
  const Stage& stage = stages_[index];
  const std::string& point_name = student_->points()[stage.point].name;
  student_->set_trainable_points(stage_trainable(stage, num_points()));
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& item : student_->named_parameters())
    if (item.value().requires_grad()) params.emplace_back(item.key(), item.value());
  Sgd sgd(params, cfg_.optim);  // a fresh optimizer per stage, as the reference
  if (index == start_.stage && !resume_momentum_.empty())
    sgd.load_state(resume_momentum_, last_path_);
  dist::GradientReducer reducer(job_.comm, params, dist::reducer_options(cfg_.bucket_mb));
  const BufferFilter averaged = averaged_buffers();
  int64_t trainable_count = 0;
  for (const auto& p : params) trainable_count += p.second.numel();
  log::info("[" + stage.name + "] point " + point_name + ": " + std::to_string(params.size()) +
            " trainable tensors (" + std::to_string(trainable_count) + " parameters), " +
            objective.describe(*student_) + ", " + std::to_string(stage.epochs) + " epoch(s)");
  const uint64_t stage_seed = derive_seed(cfg_.seed, index + 1);
  const size_t checked =
      stage.mimic() ? stage.point + 1 : num_points();  // the trained region's outputs
  int64_t epoch = index == start_.stage ? start_.epoch : 0;
  const EpochStart first = index == start_.stage ? start_.within : EpochStart{};
  const int64_t stage_steps = stage.epochs * runner_->steps_per_epoch();
  set_blends(stage,
             blend_weight(epoch * runner_->steps_per_epoch() + first.epoch_step, stage_steps));
  const StepCheck guard = [&](const StepResult& r, int64_t, int64_t at,
                              bool signal) -> StepVerdict {
    if (stage.kind == StageKind::kBlend)  // the weight for the next step
      set_blends(stage, blend_weight(epoch * runner_->steps_per_epoch() + at - step_before_epoch_,
                                     stage_steps));
    const GuardReading g = check_escape(r.outputs, checked, r.loss, cfg_.escape_bound,
                                        job_.comm.get(), r.grads_nonfinite, signal);
    if (!g.escaped) return {"", g.stop_signal};
    const std::string what =
        (g.grads ? std::string("the gradients hold NaN or Inf")
         : g.point < 0
             ? "the loss is " + format_number("%g", g.value)
             : "the output of point " + student_->points()[static_cast<size_t>(g.point)].name +
                   " has max |x| = " + format_number("%g", g.value)) +
        g.where();
    return {"escape guard: stage " + stage.name + " (point " + point_name + "), epoch " +
                std::to_string(epoch + 1) + " step " + std::to_string(at - step_before_epoch_) +
                " (global step " + std::to_string(at) + "): " + what + " (bound " +
                format_number("%g", cfg_.escape_bound) + "); last good checkpoint: " + last_good_,
            g.stop_signal};
  };

  for (; epoch < stage.epochs; ++epoch) {
    const EpochPlan plan{stage.name, epoch, stage.epochs,
                         cosine_lr(cfg_.optim, epoch, stage.epochs), stage_seed};
    const double sync_before_s = collectives_.time->seconds();
    const EpochStart from = index == start_.stage && epoch == start_.epoch ? first : EpochStart{};
    step_before_epoch_ = step_ - from.epoch_step;
    EpochOutcome out =
        runner_->train(*student_, sgd, reducer, objective, plan, averaged, &step_, guard, from);
    if (!out.stopped.empty()) {
      result_.escaped = true;
      result_.escape_message = out.stopped;
      if (!cfg_.continue_on_escape) SISYPHUS_FAIL(ErrorKind::kDiverged, out.stopped);
      log::info(out.stopped + "; --continue-on-escape: this run ends here");
      if (job_.rank == 0) {
        std::FILE* f = std::fopen((run_dir_ + "/escaped.txt").c_str(), "w");
        if (f) {
          std::fprintf(f, "%s\n", out.stopped.c_str());
          std::fclose(f);
        }
      }
      return false;
    }
    if (out.interrupted_at > 0) {  // a stop signal: the unfinished epoch's state, then exit
      const EpochRecord rec{
          stage.name, static_cast<int64_t>(stage.point), epoch,    stage.epochs, step_,
          plan.lr,    stage.mimic() ? "mse" : "loss",    out.sums, out.seconds,  std::nullopt};
      io::Checkpoint ckpt =
          unfinished_checkpoint(job_, meta_, rec, out.interrupted_at, *student_, sgd);
      if (job_.rank == 0) io::save_checkpoint(last_path_, ckpt);
      result_.interrupted = interrupted_line(runner_->stop_reason(),
                                             stage.name + " epoch " + std::to_string(epoch + 1) +
                                                 " step " + std::to_string(out.interrupted_at),
                                             last_path_);
      return false;
    }
    if (const std::string r = range_report(*student_, cfg_.range, *job_.comm); !r.empty())
      log::info(r);
    const double sync_ms_per_step = 1000.0 * (collectives_.time->seconds() - sync_before_s) /
                                    static_cast<double>(runner_->steps_per_epoch());

    // Tested only where it means something (--evaluate).
    EpochRecord rec{
        stage.name, static_cast<int64_t>(stage.point), epoch + 1, stage.epochs, step_,
        plan.lr,    stage.mimic() ? "mse" : "loss",    out.sums,  out.seconds,  std::nullopt};
    if (evaluation_due(cfg_.evaluate, stages_, index, epoch)) {
      rec.eval = runner_->test(*student_, stage.name, nn::has_amm(*student_) ? "amm" : "-",
                               epoch + 1, step_);
      result_.eval = *rec.eval;
    }
    const bool stage_done = epoch + 1 == stage.epochs;
    const std::string stage_path = run_dir_ + "/" + stage.name + ".h5";
    // the row first: a kill between the two leaves a row the resumed run drops and writes again
    if (metrics_) metrics_->write(epoch_row(rec, seconds_since(run_start_)));
    if (job_.rank == 0) {
      io::save_checkpoint(last_path_, epoch_checkpoint(meta_, rec, *student_, sgd, job_.place));
      if (stage_done) fs::copy_file_atomic(last_path_, stage_path);  // the stage's result, kept
    }
    last_good_ = stage_done ? stage_path : last_path_;
    log::info(
        epoch_line(rec, seconds_since(run_start_),
                   collectives_.sync && nn::has_amm(*student_)
                       ? " | AMM/BN sync " + format_number("%.2f", sync_ms_per_step) + " ms/step"
                       : ""));
    const bool run_done = stage_done && index + 1 == stages_.size();
    if (cfg_.stop_after_epochs > 0 && ++epochs_run_ == cfg_.stop_after_epochs && !run_done) {
      result_.stopped_early = true;
      return false;
    }
    if (!run_done && runner_->stop_agreed()) {
      result_.interrupted = interrupted_line(
          runner_->stop_reason(),
          "the end of " + stage.name + " epoch " + std::to_string(epoch + 1), last_path_);
      return false;
    }
  }
  result_.final_checkpoint = run_dir_ + "/" + stage.name + ".h5";
  ++result_.stages_run;
  return true;
}

void QuailRun::set_blends(const Stage& stage, double t) {
  const auto& points = student_->points();
  for (size_t l = 0; l < points.size(); ++l) {
    nn::ActivationSlot slot = points[l].slot;  // a handle to the network's slot
    if (slot.is_empty()) continue;
    switch (stage.kind) {
      case StageKind::kReplace:
        slot->set_blend(l <= stage.point ? 1.0 : 0.0);
        break;
      case StageKind::kBlend:
        slot->set_blend(t);
        break;
      default:
        slot->set_blend(-1);
    }
  }
}

QuailResult QuailRun::finish() {
  student_->set_trainable_points({});
  for (const auto& p : student_->points()) {  // the student computes its polynomials everywhere
    nn::ActivationSlot slot = p.slot;
    if (!slot.is_empty()) slot->set_blend(-1);
  }
  if (result_.stages_run == 0 && !result_.escaped && !result_.stopped_early &&
      result_.interrupted.empty()) {
    result_.eval =
        evaluate(*student_, data_.test, spec_, job_.place, cfg_.test_batch_size, job_.comm.get());
    result_.final_checkpoint = stages_.empty() ? "" : run_dir_ + "/" + stages_.back().name + ".h5";
    log::info("run '" + cfg_.run + "' had already finished all " + std::to_string(stages_.size()) +
              " stages");
  }
  return result_;
}

}  // namespace

QuailResult run_quail(QuailConfig cfg, Job& job) {
  resolve(cfg);
  const io::Checkpoint teacher = io::load_checkpoint(cfg.teacher);
  QuailRun run(cfg, job, teacher);
  if (cfg.method != "imitate") {  // progressive replacement (beyond the paper)
    run.replace_stages();
    return run.finish();
  }
  // QuaIL (docs/quail.md). Step 1, the ReLU baseline, is the teacher.
  // Step 2: for each point l in order, the student imitates the teacher's
  // output at l; only point l trains.
  for (size_t l = 0; l < run.num_points(); ++l)
    if (!run.mimic_layer(l)) return run.finish();
  // Step 3: for l from the last point down, every point >= l trains with
  // cross-entropy.
  for (size_t l = run.num_points(); l-- > 0;)
    if (!run.fine_tune_from(l)) return run.finish();
  return run.finish();
}

}  // namespace sisyphus::train
