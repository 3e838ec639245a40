// The run's one loop over epochs (engine/run.h) driven directly: a stage
// stopped inside an epoch resumes to the weights of the uninterrupted stage
// bit for bit; the hooks decide the blend schedule's calls, when the network
// is tested, where the stage's result is kept and how an escape reads;
// --stop-after-epochs ends the invocation between epochs.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <csignal>
#include <string>
#include <vector>

#include "core/fs.h"
#include "engine/job.h"
#include "engine/run.h"
#include "io/checkpoint.h"
#include "nn/registry.h"
#include "support/fixtures.h"

using namespace sisyphus;

namespace {

constexpr int64_t kImages = 96, kBatch = 16;  // 6 steps per epoch

data::ImageSet small_set() {
  return fixtures::memory_set(
      kImages, 1, 28, 10,
      [](int64_t i, int64_t k) { return static_cast<uint8_t>((i * 7 + k) % 251); },
      [](int64_t i) { return i % 10; });
}

train::RunSettings settings(const std::string& checkpoint_dir, const std::string& name,
                            bool resume) {
  train::RunSettings s;
  s.name = name;
  s.checkpoint_dir = checkpoint_dir;
  s.resume = resume;
  s.trace_every = 0;
  s.trace_test = false;
  s.runner = {.run = name,
              .global_batch = kBatch,
              .test_batch = kBatch,
              .augment = false,
              .log_every = 0,
              .keep_outputs = true};
  return s;
}

trace::TraceHeader header(const std::string& name, const nn::NetworkImpl& net) {
  trace::TraceHeader h{name, "lenet", "fashion-mnist", "", "", {}, 1e6};
  for (const auto& p : net.points()) h.layers.push_back(p.name);
  return h;
}

nn::Network lenet() {
  torch::manual_seed(3);
  return nn::make_network("lenet", {1, 28, 10});
}

// One run of the baseline stage (2 epochs) from `hooks`; stops with SIGUSR1
// after `stop_at` steps of the stage when > 0.
struct Outcome {
  train::StageOutcome out;
  std::vector<int64_t> schedule_calls;
};
Outcome run_stage(const train::Job& job, const std::string& dir, const std::string& name,
                  nn::NetworkImpl& net, train::StageHooks hooks, int64_t stop_at = 0,
                  int64_t stop_after_epochs = 0) {
  train::RunSettings s = settings(dir, name, /*resume=*/stop_at == 0);
  s.stop_after_epochs = stop_after_epochs;
  train::Run run(job, s);
  io::Checkpoint last;
  if (run.has_checkpoint()) {
    last = io::load_checkpoint(run.last_path());
    hooks.from.epoch = last.meta.epoch;
    hooks.from.within = run.restore(last, net, "");
    for (const auto& [kind, list] : last.optimizer)
      if (kind == "momentum") hooks.from.momentum = &list;
  }
  const data::ImageSet set = small_set();
  run.start({set, set}, data::dataset_spec("fashion-mnist"), header(name, net),
            io::CheckpointMeta{});
  Outcome o;
  hooks.schedule = [&](int64_t done, int64_t total) {
    EXPECT_EQ(total, 2 * kImages / kBatch);
    o.schedule_calls.push_back(done);
    if (stop_at > 0 && done + 1 == stop_at) std::raise(SIGUSR1);  // seen at the next step
  };
  hooks.describe_escape = [](const train::GuardReading& g, int64_t epoch, int64_t epoch_step,
                             int64_t step) {
    return "escaped at point " + std::to_string(g.point) + ", epoch " + std::to_string(epoch) +
           " step " + std::to_string(epoch_step) + " of " + std::to_string(step);
  };
  o.out = run.stage(train::baseline_stage(2), hooks, net, train::Objective::cross_entropy());
  return o;
}

}  // namespace

TEST(Run, StageStoppedInsideAnEpochResumesBitExactly) {
  const train::Job job =
      train::start_job({.threads = 1, .backend = "local", .dev = {.device = "cpu"}});
  fixtures::TempDir dir;
  nn::Network full = lenet();
  const Outcome whole = run_stage(job, dir.file("ck"), "whole", *full, {});
  EXPECT_EQ(whole.out.end, train::StageEnd::kDone);
  // The schedule: before the first step, then after each of the 12.
  std::vector<int64_t> expected;
  for (int64_t k = 0; k <= 12; ++k) expected.push_back(k);
  EXPECT_EQ(whole.schedule_calls, expected);

  nn::Network part = lenet();
  const Outcome first = run_stage(job, dir.file("ck"), "part", *part, {}, /*stop_at=*/8);
  ASSERT_EQ(first.out.end, train::StageEnd::kInterrupted) << first.out.message;
  EXPECT_NE(first.out.message.find("epoch 2 step 2"), std::string::npos) << first.out.message;
  const io::CheckpointMeta m = io::read_checkpoint_meta(dir.file("ck/part/last.h5"));
  EXPECT_EQ(m.epoch, 1);
  EXPECT_EQ(m.epoch_step, 2);

  nn::Network resumed = lenet();  // fresh weights: the checkpoint's replace them
  const Outcome second = run_stage(job, dir.file("ck"), "part", *resumed, {});
  EXPECT_EQ(second.out.end, train::StageEnd::kDone);
  EXPECT_EQ(second.schedule_calls.front(), 8) << "the schedule resumes where the stage stopped";
  const io::Checkpoint a = io::load_checkpoint(dir.file("ck/whole/last.h5"));
  const io::Checkpoint b = io::load_checkpoint(dir.file("ck/part/last.h5"));
  ASSERT_EQ(a.model.size(), b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i)
    EXPECT_TRUE(torch::equal(a.model[i].second, b.model[i].second)) << a.model[i].first;
  EXPECT_EQ(a.meta.step, 12);
  EXPECT_EQ(b.meta.step, 12);
}

TEST(Run, HooksDecideTestsKeepingAndEscapes) {
  const train::Job job =
      train::start_job({.threads = 1, .backend = "local", .dev = {.device = "cpu"}});
  fixtures::TempDir dir;
  {
    nn::Network net = lenet();
    train::StageHooks hooks;
    hooks.evaluation_due = [](int64_t epoch) { return epoch == 1; };  // the last epoch only
    hooks.keep_as = dir.file("kept.h5");
    const Outcome o = run_stage(job, dir.file("ck"), "hooks", *net, hooks);
    EXPECT_EQ(o.out.end, train::StageEnd::kDone);
    EXPECT_TRUE(fs::file_exists(dir.file("kept.h5")));
    const std::string metrics = fixtures::read_text(dir.file("ck/hooks/metrics.csv"));
    // epoch 1's row has no test figures (nan), epoch 2's has them
    std::vector<std::string> rows;
    for (size_t at = 0, nl; (nl = metrics.find('\n', at)) != std::string::npos; at = nl + 1)
      rows.push_back(metrics.substr(at, nl - at));
    ASSERT_EQ(rows.size(), 3u) << metrics;
    EXPECT_NE(rows[1].find("nan"), std::string::npos) << rows[1];
    EXPECT_EQ(rows[2].find("nan"), std::string::npos) << rows[2];
  }
  {
    nn::Network net = lenet();
    train::StageHooks hooks;
    hooks.checked = 1;
    hooks.escape_bound = 1e-12;  // the loss (point -1) exceeds it at the first step
    const Outcome o = run_stage(job, dir.file("ck"), "escapes", *net, hooks);
    EXPECT_EQ(o.out.end, train::StageEnd::kEscaped);
    EXPECT_EQ(o.out.message, "escaped at point -1, epoch 0 step 1 of 1");
    EXPECT_FALSE(fs::file_exists(dir.file("ck/escapes/last.h5")));
  }
  {
    nn::Network net = lenet();
    const Outcome o =
        run_stage(job, dir.file("ck"), "early", *net, {}, /*stop_at=*/0, /*stop_after_epochs=*/1);
    EXPECT_EQ(o.out.end, train::StageEnd::kStoppedEarly);
    EXPECT_EQ(io::read_checkpoint_meta(dir.file("ck/early/last.h5")).epoch, 1);
  }
}
