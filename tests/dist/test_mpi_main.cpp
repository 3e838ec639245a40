// Collectives and the gradient reducer under a real `mpirun -np N` (ctest
// runs this binary with 2 and with 4 oversubscribed ranks). Tests skip when
// the world has one rank. Every rank runs every test; gtest output is kept
// on rank 0 only.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cmath>
#include <limits>

#include "dist/communicator.h"
#include "dist/mpi_communicator.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "engine/escape_guard.h"
#include "nn/amm.h"
#include "nn/batchnorm.h"
#include "trace/stats.h"
#include "world.h"

using namespace sisyphus;

namespace {
std::shared_ptr<dist::MpiCommunicator> g_comm;
nn::StatSyncPtr ranks_sync() { return dist_test::ranks_sync(g_comm); }
}  // namespace

namespace sisyphus::dist_test {
dist::MpiCommunicator& world() { return *g_comm; }
std::shared_ptr<dist::MpiCommunicator> world_ptr() { return g_comm; }
nn::StatSyncPtr ranks_sync(std::shared_ptr<dist::Communicator> comm) {
  auto s = std::make_shared<nn::StatSync>();
  s->sum = [comm](torch::Tensor& t) { comm->all_reduce(t, dist::ReduceOp::kSum); };
  s->max = [comm](torch::Tensor& t) { comm->all_reduce(t, dist::ReduceOp::kMax); };
  return s;
}
}  // namespace sisyphus::dist_test

TEST(Mpi, AllReduceOpsBroadcastGather) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  torch::Tensor t = torch::tensor({float(r), float(-r), 1.0f});
  torch::Tensor sum = t.clone(), mn = t.clone(), mx = t.clone(), avg = t.clone();
  g_comm->all_reduce(sum, dist::ReduceOp::kSum);
  g_comm->all_reduce(mn, dist::ReduceOp::kMin);
  g_comm->all_reduce(mx, dist::ReduceOp::kMax);
  g_comm->all_reduce(avg, dist::ReduceOp::kAvg);
  float tri = n * (n - 1) / 2.0f;
  EXPECT_FLOAT_EQ(sum[0].item<float>(), tri);
  EXPECT_FLOAT_EQ(sum[2].item<float>(), float(n));
  EXPECT_FLOAT_EQ(mn[1].item<float>(), float(-(n - 1)));
  EXPECT_FLOAT_EQ(mx[0].item<float>(), float(n - 1));
  EXPECT_FLOAT_EQ(avg[0].item<float>(), tri / n);
  torch::Tensor b = torch::full({3}, float(r * 10 + 7), torch::kFloat64);
  g_comm->broadcast(b, n - 1);
  EXPECT_EQ(b[1].item<double>(), (n - 1) * 10 + 7);
  torch::Tensor g = g_comm->all_gather(torch::tensor({int64_t(r) * 3}));
  ASSERT_EQ(g.size(0), n);
  for (int k = 0; k < n; ++k) EXPECT_EQ(g[k][0].item<int64_t>(), k * 3);
}

// The MPI backend's path for CUDA tensors (copy to host memory, collective,
// copy back), run on CPU tensors: every collective must give exactly what the
// direct path gives, in place, for the blocking and the non-blocking call.
TEST(Mpi, StagedThroughHostEqualsDirect) {
  REQUIRE_RANKS();
  auto staged = std::make_shared<dist::MpiCommunicator>(dist::MpiOptions{.stage_all = true});
  const int r = staged->rank(), n = staged->size();
  torch::manual_seed(100 + r);  // different data per rank
  torch::Tensor x = torch::randn({1000});
  for (auto op :
       {dist::ReduceOp::kSum, dist::ReduceOp::kMin, dist::ReduceOp::kMax, dist::ReduceOp::kAvg}) {
    torch::Tensor direct = x.clone(), blocking = x.clone(), async = x.clone();
    g_comm->all_reduce(direct, op);
    const void* where = blocking.data_ptr();
    staged->all_reduce(blocking, op);
    EXPECT_EQ(blocking.data_ptr(), where);  // in place, like the direct path
    auto work = staged->all_reduce_async(async, op);
    EXPECT_TRUE(async.equal(x));  // not written before the work completes
    work->wait();
    EXPECT_TRUE(blocking.equal(direct)) << "blocking, op " << static_cast<int>(op);
    EXPECT_TRUE(async.equal(direct)) << "async, op " << static_cast<int>(op);
  }
  torch::Tensor b = torch::full({5}, double(r), torch::kFloat64);
  staged->broadcast(b, n - 1);
  EXPECT_TRUE(b.equal(torch::full({5}, double(n - 1), torch::kFloat64)));
  torch::Tensor g = staged->all_gather(torch::tensor({int64_t(r) * 5, int64_t(1)}));
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{n, 2}));
  for (int k = 0; k < n; ++k) EXPECT_EQ(g[k][0].item<int64_t>(), k * 5);
  // the reducer on top of the staged path: the same averaged gradients
  torch::manual_seed(0);
  auto w = torch::randn({64, 8}).set_requires_grad(true);
  dist::GradientReducer reducer(staged, {{"w", w}});
  reducer.begin_step(1, n);
  (w * float(r + 1)).sum().backward();
  reducer.finish_step();
  EXPECT_TRUE(w.grad().allclose(torch::full({64, 8}, (n + 1) / 2.0f)));
}

TEST(Reducer, AveragesOverAllSamplesAndSkipsFrozen) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  torch::manual_seed(0);                                      // same start on every rank
  auto w1 = torch::randn({300, 40}).set_requires_grad(true);  // 48 kB
  auto w2 = torch::randn({40}).set_requires_grad(true);
  auto frozen = torch::randn({1000, 100});  // requires_grad false
  auto w3 = torch::randn({40, 10}).set_requires_grad(true);
  dist::ReducerOptions opts;
  opts.first_bucket_bytes = 2000;  // forces several buckets
  opts.bucket_bytes = 50000;
  dist::GradientReducer reducer(g_comm, {{"w1", w1}, {"w2", w2}, {"frozen", frozen}, {"w3", w3}},
                                opts);
  EXPECT_EQ(reducer.reduced_names(), (std::vector<std::string>{"w1", "w2", "w3"}));
  EXPECT_GE(reducer.num_buckets(), 2);
  EXPECT_EQ(reducer.bucket_of(2), 0);  // w3 (the last) is in the small first bucket

  // rank r holds (r + 1) samples; loss = mean over its samples of sum(x @ w...)
  const int64_t local = r + 1, global = int64_t(n) * (n + 1) / 2;
  auto x = torch::full({local, 300}, float(r + 1));
  auto loss = (torch::matmul(torch::matmul(x, w1) + w2, w3)).sum(1).mean();
  reducer.begin_step(local, global);
  loss.backward();
  reducer.finish_step();
  EXPECT_EQ(reducer.stats().bytes_reduced, (300 * 40 + 40 + 40 * 10) * 4);
  EXPECT_FALSE(frozen.grad().defined());

  // expected: gradient of the mean over all ranks' samples, computed locally
  auto v1 = w1.detach().clone().set_requires_grad(true);
  auto v2 = w2.detach().clone().set_requires_grad(true);
  auto v3 = w3.detach().clone().set_requires_grad(true);
  std::vector<torch::Tensor> rows;
  for (int k = 0; k < n; ++k) rows.push_back(torch::full({k + 1, 300}, float(k + 1)));
  auto all = torch::cat(rows);
  (torch::matmul(torch::matmul(all, v1) + v2, v3)).sum(1).mean().backward();
  EXPECT_TRUE(torch::allclose(w1.grad(), v1.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(w2.grad(), v2.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(w3.grad(), v3.grad(), 1e-5, 1e-6));

  // identical on every rank, bit for bit
  auto mine = w1.grad().sum().reshape({1}).to(torch::kFloat64);
  auto gathered = g_comm->all_gather(mine);
  EXPECT_TRUE(gathered.eq(gathered[0]).all().item<bool>());
}

TEST(Reducer, RankWithoutBatchContributesZeros) {
  REQUIRE_RANKS();
  torch::manual_seed(1);
  auto w = torch::randn({8}).set_requires_grad(true);
  dist::GradientReducer reducer(g_comm, {{"w", w}});
  const bool has_batch = g_comm->rank() == 0;
  reducer.begin_step(has_batch ? 1 : 0, 1);
  if (has_batch) (w * 2.0f).sum().backward();
  reducer.finish_step();
  EXPECT_TRUE(torch::allclose(w.grad(), torch::full({8}, 2.0f)));
}

TEST(Reducer, FlagsOnlyTheRankWhoseGradientsHoldNaNOrInf) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  const double inf = std::numeric_limits<double>::infinity();
  // the last value is finite: large, not flagged
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), inf, -inf, 3e38}) {
    torch::manual_seed(2);
    auto w = torch::randn({300, 40}).set_requires_grad(true);
    dist::GradientReducer reducer(g_comm, {{"w", w}});
    auto c = torch::ones({300, 40});
    if (r == n - 1) c[123][7] = bad;  // the gradient of (w * c).sum() is c
    reducer.begin_step(1, n);
    (w * c).sum().backward();
    reducer.finish_step();
    const bool flagged = reducer.local_nonfinite().item<bool>();
    EXPECT_EQ(flagged, r == n - 1 && !std::isfinite(bad)) << "value " << bad << " rank " << r;
  }
}

// The step's one collective carries the escape reading and the stop signal:
// every rank sees a signal that reached one rank, and an escape that another saw.
TEST(EscapeGuard, OneAllReduceCarriesTheReadingAndTheStopSignal) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  const std::vector<torch::Tensor> outputs = {torch::full({4}, 1.0 + r), torch::full({2}, -3.0)};
  train::GuardReading g =
      train::check_escape(outputs, 2, 0.5 + r, 100, g_comm.get(), false, r == n - 1);
  EXPECT_FALSE(g.escaped);
  EXPECT_TRUE(g.stop_signal) << "rank " << r;
  EXPECT_EQ(g.max_abs, (std::vector<double>{static_cast<double>(n), 3.0}));
  EXPECT_DOUBLE_EQ(g.loss, 0.5 + n - 1);
  EXPECT_EQ(g.first_rank, -1);

  g = train::check_escape(outputs, 2, 0.5, 100, g_comm.get(), false, false);
  EXPECT_FALSE(g.stop_signal);
  EXPECT_FALSE(g.escaped);

  // NaN at point 0 on rank 1, the signal on rank 0: both reach every rank
  std::vector<torch::Tensor> bad = outputs;
  if (r == 1) bad[0] = torch::tensor({1.0, std::numeric_limits<double>::quiet_NaN()});
  g = train::check_escape(bad, 2, 0.5, 100, g_comm.get(), false, r == 0);
  EXPECT_TRUE(g.escaped);
  EXPECT_EQ(g.point, 0);
  EXPECT_EQ(g.first_rank, 1);
  EXPECT_TRUE(g.stop_signal);
}

TEST(Sync, BroadcastStateAndAverageBuffers) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  torch::manual_seed(100 + r);  // different on every rank
  torch::nn::BatchNorm1d bn(4);
  bn->forward(torch::randn({6, 4}) + r);
  dist::broadcast_state(*g_comm, *bn);
  auto root_mean = bn->running_mean.clone();
  auto gathered = g_comm->all_gather(root_mean);
  EXPECT_TRUE(torch::equal(gathered[0], gathered[n - 1]));

  bn->running_mean.fill_(float(r));
  bn->num_batches_tracked.fill_(r);
  dist::average_buffers(*g_comm, *bn);
  EXPECT_FLOAT_EQ(bn->running_mean[0].item<float>(), (n - 1) / 2.0f);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), n - 1);
}

TEST(Sync, ConfigMismatchNamesTheSetting) {
  REQUIRE_RANKS();
  dist::check_same_config(*g_comm, "[train]\nlr=0.1\nepochs=5\n");  // same: passes
  std::string mine =
      g_comm->rank() == 1 ? "[train]\nlr=0.2\nepochs=5\n" : "[train]\nlr=0.1\nepochs=5\n";
  try {
    dist::check_same_config(*g_comm, mine);
    FAIL() << "mismatch not detected";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("setting 'lr' is 0.2 on rank 1 but 0.1 on rank 0"),
              std::string::npos)
        << e.what();
  }
}

TEST(SyncBatchNorm, RanksTogetherEqualOneProcessOnTheCombinedBatch) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  auto build = [] {
    torch::manual_seed(5);
    auto lin = torch::nn::Linear(6, 4);
    nn::BatchNorm bn(4);
    return std::make_pair(lin, bn);
  };
  // every rank knows every rank's samples: rank k holds k + 2 rows
  std::vector<torch::Tensor> xs, ts;
  for (int k = 0; k < n; ++k) {
    torch::manual_seed(50 + k);
    xs.push_back(torch::randn({k + 2, 6}) * 2);
    ts.push_back(torch::randn({k + 2, 4}));
  }
  int64_t total = 0;
  for (auto& x : xs) total += x.size(0);
  auto loss_of = [](const torch::Tensor& y, const torch::Tensor& t) {
    return (y - t).pow(2).sum(1).mean();
  };

  // reference: one process, the combined batch, plain BN
  auto [lin_ref, bn_ref] = build();
  loss_of(bn_ref->forward(lin_ref->forward(torch::cat(xs))), torch::cat(ts)).backward();

  // ranks: own rows, synchronised BN, gradient reducer
  auto [lin, bn] = build();
  std::vector<std::pair<std::string, torch::Tensor>> params = {
      {"w", lin->weight}, {"b", lin->bias}, {"g", bn->weight}, {"beta", bn->bias}};
  dist::GradientReducer reducer(g_comm, params);
  bn->set_sync(ranks_sync());
  reducer.begin_step(xs[r].size(0), total);
  loss_of(bn->forward(lin->forward(xs[r])), ts[r]).backward();
  reducer.finish_step();
  EXPECT_TRUE(torch::allclose(bn->running_mean, bn_ref->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->running_var, bn_ref->running_var, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->weight.grad(), bn_ref->weight.grad(), 1e-5, 1e-6))
      << bn->weight.grad() << bn_ref->weight.grad();
  EXPECT_TRUE(torch::allclose(bn->bias.grad(), bn_ref->bias.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(lin->weight.grad(), lin_ref->weight.grad(), 1e-5, 1e-6))
      << lin->weight.grad() << lin_ref->weight.grad();
  EXPECT_TRUE(torch::allclose(lin->bias.grad(), lin_ref->bias.grad(), 1e-5, 1e-6));
}

// AMM synchronised over the ranks computes what one process computes on the
// combined batch: identical buffers on every rank, equal to the single-process
// ones, and input gradients equal up to the reducer's n_r/N weighting. Uneven
// shares, the last rank has no sample at all, and in the second step the
// extremes are tied across ranks (their gradient is shared like torch.amin's).
TEST(Amm, SynchronisedEqualsOneProcessOverTheCombinedBatch) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  std::vector<int64_t> counts(n), offsets(n);
  int64_t total = 0;
  for (int k = 0; k < n; ++k) {
    counts[k] = k == n - 1 ? 0 : k + 2;
    offsets[k] = total;
    total += counts[k];
  }
  nn::Amm ref(4), amm(4);
  ref->to(torch::kFloat64);
  amm->to(torch::kFloat64);
  ref->train();
  amm->train();
  for (int step = 0; step < 2; ++step) {
    torch::manual_seed(100 + step);  // the same combined batch on every rank
    torch::Tensor full = torch::randn({total, 4, 3, 3}, torch::kFloat64) * (step + 1);
    if (step == 1) full = full.round();  // many elements, on several ranks, share the min/max
    torch::Tensor w = torch::randn({total, 4, 3, 3}, torch::kFloat64);

    torch::Tensor xf = full.clone().requires_grad_();
    ((ref->forward(xf) * w).sum() / double(total)).backward();

    amm->set_sync(ranks_sync());
    torch::Tensor xl = full.narrow(0, offsets[r], counts[r]).clone().requires_grad_();
    torch::Tensor wl = w.narrow(0, offsets[r], counts[r]);
    ((amm->forward(xl) * wl).sum() / double(std::max<int64_t>(counts[r], 1))).backward();

    EXPECT_TRUE(torch::equal(amm->running_min, ref->running_min)) << "step " << step;
    EXPECT_TRUE(torch::equal(amm->running_max, ref->running_max));
    EXPECT_TRUE(torch::equal(amm->extreme_min, ref->extreme_min));
    EXPECT_TRUE(torch::equal(amm->extreme_max, ref->extreme_max));
    EXPECT_TRUE(torch::equal(amm->biggest_min, ref->biggest_min));
    EXPECT_TRUE(torch::equal(amm->biggest_range, ref->biggest_range));
    EXPECT_EQ(amm->num_batches_tracked.item<int64_t>(), step + 1);
    if (counts[r] > 0) {
      torch::Tensor mine = xl.grad() * (double(counts[r]) / double(total));
      torch::Tensor want = xf.grad().narrow(0, offsets[r], counts[r]);
      EXPECT_TRUE(torch::allclose(mine, want, 1e-10, 1e-12)) << (mine - want).abs().max();
    }
  }
}

// Trace statistics reduced over the ranks equal one process's over the
// combined samples (exactly for extremes, counts and histograms).
TEST(Trace, RanksTogetherEqualOneProcessOnTheCombinedBatch) {
  REQUIRE_RANKS();
  const int r = g_comm->rank(), n = g_comm->size();
  torch::manual_seed(11);
  torch::Tensor full = torch::randn({4 * n, 3, 5, 5}) * 1000;
  full.view({-1})[17] = NAN;
  full.view({-1})[40] = -INFINITY;
  torch::Tensor logits = torch::randn({4 * n, 10});
  trace::TraceAccumulator one(2, 500.0), mine(2, 500.0);
  one.add({full, logits}, 4 * n);
  mine.add({full.narrow(0, 4 * r, 4), logits.narrow(0, 4 * r, 4)}, 4);
  int64_t s1 = 0, s2 = 0;
  auto a = one.reduce(nullptr, &s1);
  auto b = mine.reduce(g_comm.get(), &s2);
  EXPECT_EQ(s1, s2);
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_EQ(a[l].min, b[l].min);
    EXPECT_EQ(a[l].max, b[l].max);
    EXPECT_EQ(a[l].max_abs, b[l].max_abs);
    EXPECT_EQ(a[l].count, b[l].count);
    EXPECT_EQ(a[l].nan, b[l].nan);
    EXPECT_EQ(a[l].inf, b[l].inf);
    EXPECT_EQ(a[l].above, b[l].above);
    EXPECT_EQ(a[l].hist, b[l].hist);
    // moments: finite batches sum in fp32 (trace/stats.cpp), so within fp32 rounding of the data's
    // scale
    EXPECT_NEAR(a[l].mean, b[l].mean, 1e-6 * std::max(1.0, a[l].std));
    EXPECT_NEAR(a[l].std, b[l].std, 1e-6 * std::max(1.0, a[l].std));
  }
}

// Every rank passes, or the run fails. The tests on a GPU issue collectives
// from autograd's device thread: MPI with thread support there, as the trainer asks.
int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  g_comm = std::make_shared<dist::MpiCommunicator>(
      dist::MpiOptions{.threads = torch::cuda::is_available() ? dist::MpiThreads::kMultiple
                                                              : dist::MpiThreads::kFunneled});
  if (g_comm->rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  torch::Tensor failed = torch::tensor({int64_t(rc != 0)});
  g_comm->all_reduce(failed, dist::ReduceOp::kMax);
  const int code = failed.item<int64_t>() != 0 ? 1 : 0;
  g_comm.reset();  // the last communicator: MPI_Finalize here, before static destruction
  return code;
}
