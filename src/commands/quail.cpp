#include "commands/quail.h"

#include "commands/quail_run.h"

namespace sisyphus::train {
namespace {

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

}  // namespace

QuailRun::QuailRun(QuailConfig& cfg, Job& job, const io::Checkpoint& teacher_ckpt)
    : cfg_(cfg),
      method_(parse_method(cfg.method)),
      evaluation_(parse_evaluation(cfg.evaluate)),
      job_(job),
      tmeta_(teacher_ckpt.meta),
      spec_(data::dataset_spec(teacher_ckpt.meta.dataset)) {
  if (cfg_.data.dir.empty()) cfg_.data.dir = spec_.default_dir;
  const std::string student_act = (cfg_.amm ? "amm+" : "") + cfg_.act;
  nn::check_activation_spec(student_act);
  if (cfg_.output.run.empty()) {
    std::string act_name = cfg_.act.substr(0, cfg_.act.find(':'));
    cfg_.output.run = tmeta_.network + "-" + tmeta_.dataset + "-quail-" + act_name +
                      (cfg_.amm ? "-amm" : "") +
                      (method_ == Method::kImitate ? "" : "-" + cfg_.method);
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
  attach(collectives_, *student_, {.batchnorm = cfg_.ranks.sync_bn, .amm = cfg_.amm_sync});
  if (method_ == Method::kImitate) {
    stages_ = plan_stages(num_points(), cfg_.mimic_epochs, cfg_.finetune_epochs);
  } else {
    std::vector<size_t> slotted;
    for (size_t l = 0; l < num_points(); ++l)
      if (!student_->points()[l].slot.is_empty()) slotted.push_back(l);
    stages_ = plan_replacement(method_, slotted, cfg_.replace_epochs);
  }
  log::info("quail: teacher " + cfg_.teacher + " (" + tmeta_.network + " on " + tmeta_.dataset +
            ", test acc " + format_number("%.2f%%", tmeta_.test_acc * 100) +
            "); student activation " + nn::activation_spec(*student_) + "; " +
            std::to_string(num_points()) + " imitation points, " + std::to_string(stages_.size()) +
            " stages; " + std::to_string(job_.world) + " rank(s), global batch " +
            std::to_string(cfg_.data.batch_size));

  run_ = std::make_unique<Run>(job_, [&] {
    RunSettings r = run_settings(cfg_, /*keep_outputs=*/true);
    r.stop_after_epochs = cfg_.stop_after_epochs;
    return r;
  }());
  if (run_->has_checkpoint()) {
    resume_from(run_->last_path());
  } else if (cfg_.output.resume) {
    log::info("resume: no checkpoint at " + run_->last_path() + " yet, starting from the teacher");
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

  trace::TraceHeader theader{cfg_.output.run,  tmeta_.network, tmeta_.dataset, config_text_, "", {},
                             cfg_.escape_bound};
  for (const auto& p : student_->points()) theader.layers.push_back(p.name);
  theader.sample_per_image = cfg_.output.trace_sample;
  io::CheckpointMeta meta = run_meta(tmeta_.network, tmeta_.dataset, spec_, tmeta_.imagenet_stem,
                                     tmeta_.batchnorm, config_text_);
  meta.activation = nn::activation_spec(*student_);
  meta.teacher = cfg_.teacher;
  run_->start(load_splits(spec_, cfg_.data.dir, cfg_.data.train_limit, cfg_.data.test_limit), spec_,
              theader, meta);
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
  const EpochStart within =
      run_->restore(ckpt, *student_, ckpt.meta.stage + " ", nn::amm_later_buffers());
  if (ckpt.meta.epoch >= stages_[s].epochs) {
    start_ = {s + 1, 0, {}};
    // A kill between the stage's last checkpoint and its copy: the copy now.
    const std::string kept = stage_path(stages_[s]);
    if (job_.rank == 0 && !fs::file_exists(kept)) {
      fs::copy_file_atomic(path, kept);
      log::info("resume: " + kept + " was missing (the run was stopped before copying it); " +
                "copied from " + path);
    }
  } else {
    start_ = {s, ckpt.meta.epoch, within};
    for (const auto& [kind, list] : ckpt.optimizer)
      if (kind == "momentum") resume_momentum_ = list;
  }
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
    if (amm ? !cfg_.amm_sync : !cfg_.ranks.sync_bn) names->insert(n);
  }
  if (names->empty()) return nullptr;
  return [names](const std::string& name) { return names->count(name) > 0; };
}

QuailResult run_quail(QuailConfig cfg, Job& job) {
  resolve(cfg);
  const io::Checkpoint teacher = io::load_checkpoint(cfg.teacher);
  QuailRun run(cfg, job, teacher);
  // QuaIL (docs/quail.md). Step 1, the ReLU baseline, is the teacher. The
  // plan (engine/quail_stage.h) holds steps 2 and 3 in the paper's order:
  // step 2, "mimic-l" for each point l in order (the student imitates the
  // teacher's output at l; only point l trains); step 3, "finetune-l" for l
  // from the last point down (every point >= l trains with cross-entropy).
  // With --method progressive or blend it holds the replacement stages
  // instead (beyond the paper).
  for (size_t i = 0; i < run.plan().size(); ++i)
    if (!run.run_stage(i)) break;
  return run.finish();
}

}  // namespace sisyphus::train
