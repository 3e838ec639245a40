// Optimizer and schedule against PyTorch's formulas, and the baseline loop:
// it learns, its resume ends with bit-identical weights, and it never
// overwrites a run's checkpoint by accident.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "commands/baseline.h"
#include "core/error.h"
#include "core/fs.h"
#include "data/dataset.h"
#include "engine/epoch_runner.h"
#include "engine/escape_guard.h"
#include "engine/quail_stage.h"
#include "engine/sgd.h"
#include "engine/tracing.h"
#include "io/checkpoint.h"
#include "nn/registry.h"
#include "settings/settings.h"
#include "support/fixtures.h"

using namespace sisyphus;

TEST(Sgd, MatchesTorchSemantics) {
  // One parameter, two steps, hand-computed with torch.optim.SGD's rules:
  // d = g + wd*p; buf = d (first) / m*buf + d; d = d + m*buf (nesterov); p -= lr*d
  train::OptimConfig cfg;
  cfg.momentum = 0.5;
  cfg.nesterov = true;
  cfg.weight_decay = 0.1;
  auto p = torch::tensor({1.0f, -2.0f}).set_requires_grad(true);
  train::Sgd sgd({{"w", p}}, cfg);
  p.mutable_grad() = torch::tensor({0.5f, 0.25f});
  sgd.step(0.1);
  // d = [0.6, 0.05]; buf = d; d = d + 0.5*buf = [0.9, 0.075]; p = [0.91, -2.0075]
  EXPECT_NEAR(p[0].item<float>(), 0.91f, 1e-6);
  EXPECT_NEAR(p[1].item<float>(), -2.0075f, 1e-6);
  p.mutable_grad() = torch::tensor({0.5f, 0.25f});
  sgd.step(0.1);
  // d = [0.5 + 0.091, 0.25 - 0.20075] = [0.591, 0.04925]
  // buf = 0.5*[0.6, 0.05] + d = [0.891, 0.07425]; d = d + 0.5*buf = [1.0365, 0.086375]
  EXPECT_NEAR(p[0].item<float>(), 0.91f - 0.10365f, 1e-6);
  EXPECT_NEAR(p[1].item<float>(), -2.0075f - 0.0086375f, 1e-6);

  // frozen parameters and missing gradients are skipped
  auto q = torch::tensor({3.0f});
  train::Sgd frozen({{"q", q}}, cfg);
  frozen.step(0.1);
  EXPECT_EQ(q.item<float>(), 3.0f);
  EXPECT_TRUE(frozen.state().empty());
}

TEST(Sgd, GradClipScalesToTheGlobalNormAsClipGradNorm) {
  // Two parameters, gradients [3, 0] and [4]: global norm 5. Clipped to 1 every
  // gradient is scaled by 1 / (5 + 1e-6) (torch.nn.utils.clip_grad_norm_);
  // plain SGD (no momentum, no decay) then moves p by -lr * g * scale.
  train::OptimConfig cfg;
  cfg.momentum = 0;
  cfg.nesterov = false;
  cfg.weight_decay = 0;
  cfg.grad_clip = 1.0;
  auto a = torch::tensor({1.0f, 1.0f}).set_requires_grad(true);
  auto b = torch::tensor({2.0f}).set_requires_grad(true);
  train::Sgd sgd({{"a", a}, {"b", b}}, cfg);
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});
  sgd.step(1.0);
  const double scale = 1.0 / (5.0 + 1e-6);
  EXPECT_NEAR(a[0].item<float>(), 1.0 - 3.0 * scale, 1e-6);
  EXPECT_NEAR(a[1].item<float>(), 1.0f, 1e-7);
  EXPECT_NEAR(b[0].item<float>(), 2.0 - 4.0 * scale, 1e-6);
  // below the bound nothing changes: the update is the plain one
  cfg.grad_clip = 10.0;
  train::Sgd loose({{"a", a}}, cfg);
  const float before = a[0].item<float>();
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  loose.step(0.5);
  EXPECT_NEAR(a[0].item<float>(), before - 1.5f, 1e-6);
}

namespace {

// The per-parameter update Sgd made before its _foreach_ form: five kernels
// per parameter (torch.optim.SGD's foreach=False path).
struct LoopSgd {
  train::OptimConfig cfg;
  std::map<std::string, torch::Tensor> momentum;
  void step(std::vector<std::pair<std::string, torch::Tensor>>& params, double lr) {
    torch::NoGradGuard no_grad;
    if (cfg.grad_clip > 0) {
      std::vector<torch::Tensor> grads, norms;
      for (auto& [name, p] : params)
        if (p.requires_grad() && p.grad().defined()) grads.push_back(p.grad());
      for (const auto& g : grads) norms.push_back(g.norm(2).to(torch::kFloat32));
      const torch::Tensor scale =
          (cfg.grad_clip / (torch::stack(norms).norm(2) + 1e-6)).clamp_max(1.0);
      for (auto& g : grads) g.mul_(scale.to(g.scalar_type()));
    }
    for (auto& [name, p] : params) {
      if (!p.requires_grad() || !p.grad().defined()) continue;
      torch::Tensor d = p.grad();
      if (cfg.weight_decay != 0) d = d.add(p, cfg.weight_decay);
      if (cfg.momentum != 0) {
        auto it = momentum.find(name);
        if (it == momentum.end()) {
          it = momentum.emplace(name, d.clone().detach()).first;
        } else {
          it->second.mul_(cfg.momentum).add_(d);
        }
        d = cfg.nesterov ? d.add(it->second, cfg.momentum) : it->second;
      }
      p.add_(d, -lr);
    }
  }
};

}  // namespace

// The _foreach_ update against the per-parameter loop, bit for bit, over the
// cases a QuaIL run meets: parameters of several shapes (one NHWC), one
// frozen, one without a gradient on some steps (its momentum waits), one
// whose first gradient comes late (its buffer starts then), with and without
// weight decay, Nesterov and clipping.
TEST(Sgd, ForeachStepEqualsThePerParameterLoopBitForBit) {
  for (int variant = 0; variant < 8; ++variant) {
    train::OptimConfig cfg;
    cfg.weight_decay = (variant & 1) ? 5e-4 : 0.0;
    cfg.nesterov = (variant & 2) != 0;
    cfg.momentum = variant == 6 ? 0.0 : 0.5;
    cfg.grad_clip = (variant & 4) ? 0.05 : 0.0;
    torch::manual_seed(variant);
    auto make = [] {
      return std::vector<torch::Tensor>{
          torch::randn({16, 8, 3, 3}).contiguous(torch::MemoryFormat::ChannelsLast),
          torch::randn({16}),
          torch::randn({10, 64}),
          torch::randn({10}),
          torch::randn({5, 5}),
          torch::randn({7})};
    };
    std::vector<torch::Tensor> init = make();
    std::vector<std::pair<std::string, torch::Tensor>> a, b;
    for (size_t i = 0; i < init.size(); ++i) {
      const bool frozen = i == 3;
      a.emplace_back("p" + std::to_string(i), init[i].clone().set_requires_grad(!frozen));
      b.emplace_back("p" + std::to_string(i), init[i].clone().set_requires_grad(!frozen));
    }
    train::Sgd sgd(a, cfg);
    LoopSgd loop{cfg, {}};
    for (int step = 0; step < 5; ++step) {
      std::vector<torch::Tensor> grads = make();
      for (size_t i = 0; i < a.size(); ++i) {
        const bool none = (i == 4 && step == 2) || (i == 5 && step < 3);
        a[i].second.mutable_grad() = none ? torch::Tensor() : grads[i].clone();
        b[i].second.mutable_grad() = none ? torch::Tensor() : grads[i].clone();
      }
      const double lr = 0.1 / (step + 1);
      sgd.step(lr);
      loop.step(b, lr);
      for (size_t i = 0; i < a.size(); ++i)
        ASSERT_TRUE(torch::equal(a[i].second, b[i].second))
            << "variant " << variant << " step " << step << " parameter " << i;
    }
    std::map<std::string, torch::Tensor> state;
    for (const auto& [name, t] : sgd.state()) state[name] = t;
    ASSERT_EQ(state.size(), loop.momentum.size()) << "variant " << variant;
    for (const auto& [name, t] : loop.momentum)
      EXPECT_TRUE(torch::equal(state.at(name), t)) << "variant " << variant << " " << name;
  }
}

// The escape guard's per-point reading, taken on the outputs' device and
// fetched once: the largest |x|, NaN as +inf, an empty output (a rank
// without samples) as 0, only the checked points.
TEST(EscapeGuard, PointMaximaInOneTensor) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<torch::Tensor> outs = {
      torch::tensor({1.5f, -7.25f, 3.0f}), torch::tensor({{2.0f, static_cast<float>(nan)}}),
      torch::zeros({0, 4}), torch::tensor({-std::numeric_limits<float>::infinity()}),
      torch::tensor({99.0f})};
  const torch::Tensor m = train::point_maxima(outs, 4);
  ASSERT_EQ(m.sizes(), (std::vector<int64_t>{4}));
  EXPECT_EQ(m.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(m.device().is_cpu());
  EXPECT_EQ(m[0].item<double>(), 7.25);
  EXPECT_TRUE(std::isinf(m[1].item<double>()));
  EXPECT_EQ(m[2].item<double>(), 0.0);
  EXPECT_TRUE(std::isinf(m[3].item<double>()));
  EXPECT_EQ(train::point_maxima(outs, 0).numel(), 0);
  // and the verdict built on it (one process: no communicator)
  const train::GuardReading g = train::check_escape(outs, 1, 0.5, 7.0, nullptr);
  EXPECT_TRUE(g.escaped);
  EXPECT_EQ(g.point, 0);
  EXPECT_EQ(g.value, 7.25);
  EXPECT_FALSE(train::check_escape(outs, 1, 0.5, 8.0, nullptr).escaped);
}

TEST(Sgd, CosineScheduleMatchesCosineAnnealingLR) {
  train::OptimConfig cfg;
  cfg.lr = 0.1;
  cfg.lr_min = 1e-3;
  EXPECT_DOUBLE_EQ(train::cosine_lr(cfg, 0, 50), 0.1);
  EXPECT_NEAR(train::cosine_lr(cfg, 25, 50), (0.1 + 1e-3) / 2, 1e-12);
  EXPECT_NEAR(train::cosine_lr(cfg, 50, 50), 1e-3, 1e-12);
  EXPECT_NEAR(train::cosine_lr(cfg, 10, 50),
              1e-3 + (0.1 - 1e-3) * (1 + std::cos(M_PI * 10 / 50)) / 2, 1e-12);
}

namespace {

train::TrainConfig small_config(const std::string& data_dir, const std::string& ckpt_dir) {
  train::TrainConfig c;
  c.network = "lenet";
  c.dataset = "fashion-mnist";
  c.data.dir = data_dir;
  c.output.checkpoint_dir = ckpt_dir;
  c.epochs = 3;
  c.data.batch_size = 32;
  c.job.threads = 1;
  c.output.log_every = 0;
  return c;
}

// What app/cli.cpp does: the job started from the run's settings, then the run.
train::BaselineResult run_baseline(const train::TrainConfig& c) {
  const train::Job job = train::start_job(c.job);
  return train::train_baseline(c, job);
}

void expect_same_weights(const std::string& a, const std::string& b) {
  io::Checkpoint ca = io::load_checkpoint(a), cb = io::load_checkpoint(b);
  ASSERT_EQ(ca.model.size(), cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    EXPECT_EQ(ca.model[i].first, cb.model[i].first);
    EXPECT_TRUE(torch::equal(ca.model[i].second, cb.model[i].second)) << ca.model[i].first;
  }
  EXPECT_EQ(ca.meta.step, cb.meta.step);
}

}  // namespace

TEST(Baseline, LearnsAndResumesBitExactly) {
  fixtures::TempDir dir;
  fixtures::write_idx_dataset(dir.file("data"), 600, 200, /*gz=*/true);

  // uninterrupted: 3 epochs
  train::TrainConfig full = small_config(dir.file("data"), dir.file("ck"));
  full.output.run = "full";
  train::BaselineResult r = run_baseline(full);
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_GT(r.eval.accuracy(), 0.9) << "the class is visible in the pixels";

  // interrupted after 1 epoch, then resumed to 3
  train::TrainConfig part = small_config(dir.file("data"), dir.file("ck"));
  part.output.run = "part";
  part.epochs = 3;
  {
    // Stops after epoch 1 as a killed run would. Epoch 0 of a 1-epoch and of
    // a 3-epoch cosine schedule both use lr 0.1, so this is the first third
    // of the full run.
    train::TrainConfig first = part;
    first.epochs = 1;
    run_baseline(first);
  }
  EXPECT_EQ(io::read_checkpoint_meta(dir.file("ck/part/last.h5")).epoch, 1);
  part.output.resume = true;
  train::BaselineResult r2 = run_baseline(part);
  EXPECT_EQ(r2.epochs_run, 2);
  expect_same_weights(dir.file("ck/full/last.h5"), dir.file("ck/part/last.h5"));
}

// --force-collectives at world 1 (one process, the local backend): the
// reducer's buckets, buffer averaging, the escape guard and the evaluation
// counts all run through the communicator, as NCCL's do on one GPU in
// gpu_check. Each is the identity there, so the run ends with the same
// weights bit for bit (per-rank BN statistics; SyncBN's own formula is
// checked against the plain one in test_batchnorm).
TEST(Baseline, ForcedCollectivesAtWorldOneTrainAsTheUnforcedRun) {
  fixtures::TempDir dir;
  fixtures::write_idx_dataset(dir.file("data"), 300, 100, /*gz=*/false);
  train::TrainConfig plain = small_config(dir.file("data"), dir.file("ck"));
  plain.epochs = 1;
  plain.ranks.sync_bn = false;
  plain.output.run = "plain";
  train::TrainConfig forced = plain;
  forced.output.run = "forced";
  forced.job.dev.force_collectives = true;
  run_baseline(plain);
  run_baseline(forced);
  expect_same_weights(dir.file("ck/plain/last.h5"), dir.file("ck/forced/last.h5"));
}

TEST(Baseline, RefusesToOverwriteARun) {
  fixtures::TempDir dir;
  fixtures::write_idx_dataset(dir.file("data"), 64, 32, false);
  train::TrainConfig c = small_config(dir.file("data"), dir.file("ck"));
  c.epochs = 1;
  run_baseline(c);
  std::string before = fixtures::read_text(dir.file("ck/lenet-fashion-mnist/last.h5"));
  try {
    run_baseline(c);
    FAIL() << "second run overwrote the checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos);
  }
  EXPECT_EQ(fixtures::read_text(dir.file("ck/lenet-fashion-mnist/last.h5")), before);
}

TEST(Baseline, ConfigValidation) {
  train::TrainConfig c;
  auto expect_flag = [](train::TrainConfig cfg, const std::string& flag) {
    try {
      train::resolve(cfg);
      FAIL() << "accepted bad " << flag;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kConfig);
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  c.epochs = 0;
  expect_flag(c, "--epochs");
  c = {};
  c.data.batch_size = -3;
  expect_flag(c, "--batch-size");
  c = {};
  c.optim.lr = -1;
  expect_flag(c, "--lr");
  c = {};
  c.optim.momentum = 1.5;
  expect_flag(c, "--momentum");
  c = {};
  c.network = "resnet19";
  expect_flag(c, "resnet19");
  c = {};
  c.dataset = "svhn";
  expect_flag(c, "svhn");
  c = {};
  c.output.run = "../escape";
  expect_flag(c, "--run");
  c = {};
  train::resolve(c);
  EXPECT_EQ(c.output.run, "lenet-fashion-mnist");
  EXPECT_EQ(c.data.dir, "/usr/share/datasets/fashion-mnist");
}

// --evaluate: where the QuaIL student is tested.
TEST(QuailStages, EvaluationPolicy) {
  using train::evaluation_due;
  const std::vector<train::Stage> stages =
      train::plan_stages(/*num_points=*/3, /*mimic=*/2, /*finetune=*/1);
  ASSERT_EQ(stages.size(), 6u);  // mimic-00..02, finetune-02..00
  auto due = [&](train::Evaluation policy) {
    std::vector<std::string> at;
    for (size_t s = 0; s < stages.size(); ++s)
      for (int64_t e = 0; e < stages[s].epochs; ++e)
        if (evaluation_due(policy, stages, s, e))
          at.push_back(stages[s].name + "/" + std::to_string(e + 1));
    return at;
  };
  EXPECT_EQ(due(train::Evaluation::kReference),
            (std::vector<std::string>{"mimic-02/2", "finetune-00/1"}));
  EXPECT_EQ(due(train::Evaluation::kStages),
            (std::vector<std::string>{"mimic-00/2", "mimic-01/2", "mimic-02/2", "finetune-02/1",
                                      "finetune-01/1", "finetune-00/1"}));
  EXPECT_EQ(due(train::Evaluation::kEpochs).size(), 9u);
  // only mimic stages, or only fine-tuning: the last stage is tested
  const auto mimic_only = train::plan_stages(3, 1, 0), finetune_only = train::plan_stages(3, 0, 1);
  EXPECT_TRUE(evaluation_due(train::Evaluation::kReference, mimic_only, 2, 0));
  EXPECT_FALSE(evaluation_due(train::Evaluation::kReference, mimic_only, 1, 0));
  EXPECT_TRUE(evaluation_due(train::Evaluation::kReference, finetune_only, 2, 0));
  EXPECT_FALSE(evaluation_due(train::Evaluation::kReference, finetune_only, 0, 0));
  // the names, parsed once by the driver, as the settings table checks them
  EXPECT_EQ(train::parse_evaluation("stages"), train::Evaluation::kStages);
  EXPECT_EQ(train::evaluation_names(), (std::vector<std::string>{"reference", "stages", "epochs"}));
  EXPECT_THROW(train::parse_evaluation("sometimes"), Error);
  EXPECT_EQ(train::parse_method("blend"), train::Method::kBlend);
  EXPECT_THROW(train::parse_method("imitation"), Error);
}

// The settings tables: one row per setting, each named once, each in the
// config text as "name=" with the value, each rule naming its flag.
TEST(Settings, TablesDriveConfigTextAndValidation) {
  auto check_table = [](const auto& table, const std::string& text) {
    std::set<std::string> names;
    for (const auto& row : table) {
      EXPECT_TRUE(names.insert(row.name).second) << "setting " << row.name << " twice";
      EXPECT_NE(text.find("\n" + row.name + "="), std::string::npos) << row.name;
      EXPECT_FALSE(row.help.empty()) << row.name;
    }
    return names.size();
  };
  train::TrainConfig t;
  train::QuailConfig q;
  EXPECT_GE(check_table(train::train_settings(), train::to_config_text(t)), 30u);
  EXPECT_GE(check_table(train::quail_settings(), train::to_config_text(q)), 30u);
  q.teacher = "t.h5";
  q.amm_sync = false;  // needs --no-verify-ranks: a rule across settings
  try {
    train::resolve(q);
    FAIL() << "accepted --no-amm-sync with rank verification";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad value for --amm-sync"), std::string::npos)
        << e.what();
  }
  q.ranks.verify_ranks = false;
  train::resolve(q);
  train::DeviceConfig d;
  d.precision = "fp16";
  EXPECT_THROW(train::check_device(d), Error);
}

// The config text is stored in every checkpoint and compared on resume: the
// defaults' texts are byte for byte those of e5f6728, before the settings
// were nested into shared structs (the hashes of its checkpoints' texts with
// the defaults put back, computed outside sisyphus), with the rows added
// since then taken out again (each at its default).
TEST(Settings, DefaultConfigTextsUnchanged) {
  const auto without_later_rows = [](std::string text) {
    for (const char* row : {"fused-bn-relu=false\n"}) {
      const size_t at = text.find(row);
      EXPECT_NE(at, std::string::npos) << row;
      if (at != std::string::npos) text.erase(at, std::string(row).size());
    }
    return text;
  };
  EXPECT_EQ(train::config_hash(without_later_rows(train::to_config_text(train::TrainConfig{}))),
            "cfd509583afb7442");
  EXPECT_EQ(train::config_hash(without_later_rows(train::to_config_text(train::QuailConfig{}))),
            "6c04a16f13a40dc8");
}

// eval, fold and cost: tables of the same rows (flag, help, rule, required),
// which their commands check before any work.
TEST(Settings, CheckpointCommandsHaveTablesToo) {
  auto rows_of = [](const auto& table) {
    std::map<std::string, bool> required;
    for (const auto& row : table) {
      EXPECT_TRUE(required.emplace(row.name, row.required).second)
          << "setting " << row.name << " twice";
      EXPECT_FALSE(row.help.empty()) << row.name;
    }
    return required;
  };
  const auto eval = rows_of(train::eval_settings());
  const auto fold = rows_of(train::fold_settings());
  const auto cost = rows_of(train::cost_settings());
  EXPECT_TRUE(eval.at("checkpoint") && fold.at("checkpoint") && fold.at("out") &&
              cost.at("checkpoint"));
  EXPECT_FALSE(eval.at("batch-size") || eval.at("precision") || cost.at("amm-mode"));
  auto why = [](auto check) -> std::string {
    try {
      check();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  train::EvalConfig e;
  EXPECT_EQ(why([&] { train::check_settings(train::eval_settings(), e); }), "");
  e.batch_size = 0;
  EXPECT_NE(why([&] {
              train::check_settings(train::eval_settings(), e);
            }).find("bad value for --batch-size: must be at least 1"),
            std::string::npos);
  train::FoldConfig f;
  f.amm_mode = "minmax";
  EXPECT_NE(why([&] {
              train::check_settings(train::fold_settings(), f);
            }).find("unknown AMM inference mode 'minmax'"),
            std::string::npos);
  train::CostConfig c;
  c.amm_mode = "extreme";
  EXPECT_EQ(why([&] { train::check_settings(train::cost_settings(), c); }), "");
  for (const auto& row : train::cost_settings())
    if (row.name == "layers") EXPECT_EQ(row.negation, "totals-only");
}

// --no-trace-test turns the test set's statistics off, not only their record:
// an evaluation computes none (they cost about 3x the evaluation's own time
// at full sampling); traced, every test batch is computed and recorded.
TEST(EpochRunner, UntracedTestSetComputesNoStatistics) {
  const train::Job job =
      train::start_job({.threads = 1, .backend = "local", .dev = {.device = "cpu"}});
  const data::ImageSet set = fixtures::memory_set(
      30, 1, 28, 10, [](int64_t i, int64_t k) { return static_cast<uint8_t>(i * 13 + k); },
      [](int64_t i) { return i % 10; });
  const train::Splits data{set, set};
  const data::DatasetSpec& spec = data::dataset_spec("fashion-mnist");
  nn::Network net = nn::make_network("lenet", {1, 28, 10});
  trace::TraceHeader header{"r", "lenet", "fashion-mnist", "", "", {}, 1e6};
  for (const auto& p : net->points()) header.layers.push_back(p.name);
  fixtures::TempDir dir;
  for (const bool traced : {false, true}) {
    const std::string path = dir.file(traced ? "traced.h5" : "untraced.h5");
    train::RunTrace trace(job, path, header, /*resume_step=*/-1, /*every=*/0, /*test=*/traced);
    train::EpochRunner runner(job, data, spec, trace, {.run = "r", .test_batch = 10});
    runner.test(*net, "baseline", "-", 1, 0);
    EXPECT_EQ(trace.accumulator().batches_computed(), traced ? 3 : 0) << traced;
    EXPECT_EQ(fs::file_exists(path), traced);
  }
}

// The stage plan is the driver's only order: mimic-00 .. mimic-(L-1), then
// finetune-(L-1) .. finetune-00; what each trains; replacement plans.
TEST(QuailStages, PlanOrderAndWhatEachTrains) {
  const std::vector<train::Stage> plan = train::plan_stages(3, 1, 2);
  std::vector<std::string> names;
  for (const auto& s : plan) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"mimic-00", "mimic-01", "mimic-02", "finetune-02",
                                             "finetune-01", "finetune-00"}));
  EXPECT_EQ(plan[1].epochs, 1);
  EXPECT_EQ(plan[4].epochs, 2);
  EXPECT_EQ(train::stage_trainable(plan[1], 3), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(train::stage_trainable(plan[4], 3), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(train::stage_trainable(plan[5], 3), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(train::plan_stages(3, 0, 1).size(), 3u);  // a kind with 0 epochs is left out
  const auto replace = train::plan_replacement(train::Method::kProgressive, {0, 2}, 1);
  ASSERT_EQ(replace.size(), 2u);
  EXPECT_EQ(replace[1].name, "replace-02");
  const auto blend = train::plan_replacement(train::Method::kBlend, {0, 1, 2}, 5);
  ASSERT_EQ(blend.size(), 1u);
  EXPECT_EQ(blend[0].kind, train::StageKind::kBlend);
  EXPECT_EQ(train::blend_weight(0, 10), 0.0);  // rises over the first half, then 1
  EXPECT_EQ(train::blend_weight(10, 10), 1.0);
  EXPECT_LT(train::blend_weight(2, 10), train::blend_weight(3, 10));
}
