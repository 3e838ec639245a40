// Optimizer and schedule against PyTorch's formulas, and the baseline loop:
// it learns, its resume ends with bit-identical weights, and it never
// overwrites a run's checkpoint by accident.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "core/error.h"
#include "io/checkpoint.h"
#include "support/fixtures.h"
#include "train/baseline.h"
#include "train/quail_stage.h"
#include "train/settings.h"
#include "train/sgd.h"

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
  c.data_dir = data_dir;
  c.checkpoint_dir = ckpt_dir;
  c.epochs = 3;
  c.batch_size = 32;
  c.threads = 1;
  c.log_every = 0;
  return c;
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
  full.run = "full";
  train::BaselineResult r = train::train_baseline(full);
  EXPECT_EQ(r.epochs_run, 3);
  EXPECT_GT(r.eval.accuracy(), 0.9) << "the class is visible in the pixels";

  // interrupted after 1 epoch, then resumed to 3
  train::TrainConfig part = small_config(dir.file("data"), dir.file("ck"));
  part.run = "part";
  part.epochs = 3;
  {
    // Stops after epoch 1 as a killed run would. Epoch 0 of a 1-epoch and of
    // a 3-epoch cosine schedule both use lr 0.1, so this is the first third
    // of the full run.
    train::TrainConfig first = part;
    first.epochs = 1;
    train::train_baseline(first);
  }
  EXPECT_EQ(io::read_checkpoint_meta(dir.file("ck/part/last.h5")).epoch, 1);
  part.resume = true;
  train::BaselineResult r2 = train::train_baseline(part);
  EXPECT_EQ(r2.epochs_run, 2);
  expect_same_weights(dir.file("ck/full/last.h5"), dir.file("ck/part/last.h5"));
}

TEST(Baseline, RefusesToOverwriteARun) {
  fixtures::TempDir dir;
  fixtures::write_idx_dataset(dir.file("data"), 64, 32, false);
  train::TrainConfig c = small_config(dir.file("data"), dir.file("ck"));
  c.epochs = 1;
  train::train_baseline(c);
  std::string before = fixtures::read_text(dir.file("ck/lenet-fashion-mnist/last.h5"));
  try {
    train::train_baseline(c);
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
  c.batch_size = -3;
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
  c.run = "../escape";
  expect_flag(c, "--run");
  c = {};
  train::resolve(c);
  EXPECT_EQ(c.run, "lenet-fashion-mnist");
  EXPECT_EQ(c.data_dir, "/usr/share/datasets/fashion-mnist");
}

// --evaluate: where the QuaIL student is tested.
TEST(QuailStages, EvaluationPolicy) {
  using train::evaluation_due;
  const std::vector<train::Stage> stages =
      train::plan_stages(/*num_points=*/3, /*mimic=*/2, /*finetune=*/1);
  ASSERT_EQ(stages.size(), 6u);  // mimic-00..02, finetune-02..00
  auto due = [&](const std::string& policy) {
    std::vector<std::string> at;
    for (size_t s = 0; s < stages.size(); ++s)
      for (int64_t e = 0; e < stages[s].epochs; ++e)
        if (evaluation_due(policy, stages, s, e))
          at.push_back(stages[s].name + "/" + std::to_string(e + 1));
    return at;
  };
  EXPECT_EQ(due("reference"), (std::vector<std::string>{"mimic-02/2", "finetune-00/1"}));
  EXPECT_EQ(due("stages"),
            (std::vector<std::string>{"mimic-00/2", "mimic-01/2", "mimic-02/2", "finetune-02/1",
                                      "finetune-01/1", "finetune-00/1"}));
  EXPECT_EQ(due("epochs").size(), 9u);
  // only mimic stages, or only fine-tuning: the last stage is tested
  const auto mimic_only = train::plan_stages(3, 1, 0), finetune_only = train::plan_stages(3, 0, 1);
  EXPECT_TRUE(evaluation_due("reference", mimic_only, 2, 0));
  EXPECT_FALSE(evaluation_due("reference", mimic_only, 1, 0));
  EXPECT_TRUE(evaluation_due("reference", finetune_only, 2, 0));
  EXPECT_FALSE(evaluation_due("reference", finetune_only, 0, 0));
  EXPECT_THROW(evaluation_due("sometimes", stages, 0, 0), Error);
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
  q.verify_ranks = false;
  train::resolve(q);
  train::DeviceConfig d;
  d.precision = "fp16";
  EXPECT_THROW(train::check_device(d), Error);
}
