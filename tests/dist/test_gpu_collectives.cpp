// The backends' GPU paths, run where they can be (launch/gpu_check.sh: one
// GPU), and what of them a CPU can show:
//   - NCCL at world 1 (`mpirun -np 1 test_dist`): with collectives forced,
//     every collective a training step issues (all-reduce fp32/bf16, its
//     async form, broadcast, all-gather, the reducer's buckets and hooks,
//     buffer averaging, SyncBN and AMM statistics, the escape guard) runs
//     through NCCL and gives what the CPU path gives;
//   - CUDA tensors through the MPI backend's pinned-memory staging on 2 ranks
//     sharing one GPU (`mpirun -np 2 test_dist`), bit for bit against the
//     same collectives on CPU tensors;
//   - on any machine: which ranks share a GPU (by device identity), and
//     MPI's thread support checked against what the job needs.
// The GPU tests skip without a GPU (fail instead with SISYPHUS_REQUIRE_GPU,
// as gpu_check sets it).
#define OMPI_SKIP_MPICXX 1
#include <gtest/gtest.h>
#include <mpi.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "dist/communicator.h"
#include "dist/local_communicator.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "engine/escape_guard.h"
#include "nn/amm.h"
#include "nn/batchnorm.h"
#include "nn/registry.h"
#include "support/gpu.h"
#include "world.h"

using namespace sisyphus;

namespace {

const torch::Device kGpu(torch::kCUDA, 0);

// NCCL over this process alone, every collective forced through it.
std::shared_ptr<dist::Communicator> nccl_world_one() {
  dist::Connection c = dist::connect({dist::Backend::kNccl, dist::DeviceKind::kCuda,
                                      /*nccl_timeout_s=*/120, /*force_collectives=*/true});
  EXPECT_EQ(c.comm->backend(), "nccl");
  EXPECT_TRUE(c.comm->communicates());
  return c.comm;
}

torch::Tensor host(const torch::Tensor& t) {
  torch::cuda::synchronize();
  return t.to(torch::kCPU);
}

}  // namespace

// ------------------------------------------------------------------ any machine

TEST(GpuSharing, DecidedByDeviceIdentityNotByCounting) {
  REQUIRE_RANKS();
  dist::Communicator& comm = dist_test::world();
  const int r = comm.rank();
  // Slurm's one GPU per task: one visible GPU each, all different
  EXPECT_FALSE(dist::gpus_shared(comm, "node", "GPU-" + std::to_string(r)));
  // every rank on the same device
  EXPECT_TRUE(dist::gpus_shared(comm, "node", "GPU-0"));
  // the same identity on different hosts is not sharing
  EXPECT_FALSE(dist::gpus_shared(comm, "host" + std::to_string(r), "GPU-0"));
  // only ranks 0 and 1 on one device
  EXPECT_TRUE(dist::gpus_shared(comm, "node", r <= 1 ? "GPU-a" : "GPU-" + std::to_string(r)));
}

TEST(MpiThreads, ProvidedLevelIsCheckedAgainstTheJobsNeed) {
  dist::check_thread_level(MPI_THREAD_FUNNELED, MPI_THREAD_MULTIPLE);
  dist::check_thread_level(MPI_THREAD_MULTIPLE, MPI_THREAD_MULTIPLE);
  try {
    dist::check_thread_level(MPI_THREAD_MULTIPLE, MPI_THREAD_FUNNELED);
    FAIL() << "accepted too little thread support";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMpi);
    EXPECT_NE(std::string(e.what()).find("provides MPI_THREAD_FUNNELED but the job needs "
                                         "MPI_THREAD_MULTIPLE"),
              std::string::npos)
        << e.what();
  }
  // this process's MPI gives what its communicator asked for
  int provided = 0;
  ASSERT_EQ(MPI_Query_thread(&provided), MPI_SUCCESS);
  EXPECT_GE(provided, torch::cuda::is_available() ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED);
}

// A forced local communicator runs the reducer's buckets on one CPU rank:
// the gradients it hands back are the backward's own, bit for bit.
TEST(ForcedCollectives, ReducerBucketsAtWorldOneOnTheCpu) {
  auto local = std::make_shared<dist::LocalCommunicator>();
  local->force_collectives(true);
  torch::manual_seed(3);
  auto a = torch::randn({300, 40}).set_requires_grad(true);
  auto b = torch::randn({40}).set_requires_grad(true);
  dist::ReducerOptions opts;
  opts.first_bucket_bytes = 200;
  opts.bucket_bytes = 20000;
  dist::GradientReducer reducer(local, {{"a", a}, {"b", b}}, opts);
  EXPECT_GE(reducer.num_buckets(), 2);
  auto x = torch::randn({5, 300});
  auto loss = [&] { return (torch::matmul(x, a) + b).tanh().sum(); };
  reducer.begin_step(5, 5);
  loss().backward();
  reducer.finish_step();
  EXPECT_EQ(reducer.stats().steps, 1);
  auto a2 = a.detach().clone().set_requires_grad(true);
  auto b2 = b.detach().clone().set_requires_grad(true);
  (torch::matmul(x, a2) + b2).tanh().sum().backward();
  EXPECT_TRUE(torch::equal(a.grad(), a2.grad()));
  EXPECT_TRUE(torch::equal(b.grad(), b2.grad()));
}

// ------------------------------------------------------------------ NCCL, one GPU

TEST(NcclWorldOne, CollectivesThroughNcclEqualTheCpuPath) {
  REQUIRE_GPU();
  if (dist_test::world().size() != 1) GTEST_SKIP() << "NCCL refuses two ranks on one GPU: np 1";
  auto comm = nccl_world_one();
  torch::manual_seed(1);
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const torch::Tensor x = torch::randn({1000}).to(dtype);
    for (auto op :
         {dist::ReduceOp::kSum, dist::ReduceOp::kMin, dist::ReduceOp::kMax, dist::ReduceOp::kAvg}) {
      torch::Tensor cpu = x.clone();
      dist::LocalCommunicator().all_reduce(cpu, op);  // one rank: the identity
      torch::Tensor blocking = x.to(kGpu), async = x.to(kGpu);
      comm->all_reduce(blocking, op);
      auto work = comm->all_reduce_async(async, op);
      work->wait();
      EXPECT_TRUE(torch::equal(host(blocking), cpu)) << dtype << " op " << static_cast<int>(op);
      EXPECT_TRUE(torch::equal(host(async), cpu)) << dtype << " op " << static_cast<int>(op);
    }
    torch::Tensor b = x.to(kGpu);
    comm->broadcast(b, 0);
    EXPECT_TRUE(torch::equal(host(b), x));
    torch::Tensor g = comm->all_gather(x.to(kGpu));
    EXPECT_EQ(g.sizes(), (std::vector<int64_t>{1, 1000}));
    EXPECT_TRUE(torch::equal(host(g)[0], x));
  }
  // CPU tensors on the NCCL communicator go through MPI
  torch::Tensor counts = torch::tensor({3, 4}, torch::kInt64);
  comm->all_reduce(counts, dist::ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({3, 4}, torch::kInt64)));
  // the escape guard's collective
  const std::vector<torch::Tensor> outs = {torch::full({4}, 2.5, torch::TensorOptions(kGpu))};
  const train::GuardReading g = train::check_escape(outs, 1, 0.25, 100, comm.get());
  EXPECT_FALSE(g.escaped);
  EXPECT_EQ(g.max_abs, std::vector<double>{2.5});
}

// One training step of LeNet on the GPU: the reducer (small buckets: several,
// started from the autograd hooks) through NCCL against the same step with a
// one-rank communicator that skips it, then buffer averaging. Identical.
TEST(NcclWorldOne, ReducerHooksBucketsAndBufferAveraging) {
  REQUIRE_GPU();
  if (dist_test::world().size() != 1) GTEST_SKIP() << "NCCL refuses two ranks on one GPU: np 1";
  auto comm = nccl_world_one();
  auto run = [](std::shared_ptr<dist::Communicator> c) {
    torch::manual_seed(2);
    nn::Network net = nn::make_network("lenet", {1, 28, 10});
    net->to(kGpu);
    std::vector<std::pair<std::string, torch::Tensor>> params;
    for (const auto& item : net->named_parameters()) params.emplace_back(item.key(), item.value());
    dist::GradientReducer reducer(c, params, dist::reducer_options(0.02));
    torch::manual_seed(3);
    torch::Tensor x = torch::randn({16, 1, 28, 28}).to(kGpu);
    torch::Tensor y = torch::randint(0, 10, {16}, torch::kInt64).to(kGpu);
    reducer.begin_step(16, 16);
    torch::nn::functional::cross_entropy(net->forward(x), y).backward();
    reducer.finish_step();
    dist::average_buffers(*c, *net, 16);
    std::vector<torch::Tensor> out;
    for (auto& [name, p] : params) out.push_back(host(p.grad()));
    for (auto& b : net->buffers()) out.push_back(host(b));
    return std::make_pair(out, reducer.stats());
  };
  auto [nccl, stats] = run(comm);
  auto [local, unused] = run(std::make_shared<dist::LocalCommunicator>());
  ASSERT_EQ(nccl.size(), local.size());
  for (size_t i = 0; i < nccl.size(); ++i) EXPECT_TRUE(torch::equal(nccl[i], local[i])) << i;
  EXPECT_GT(stats.bytes_reduced, 0);
  EXPECT_GE(stats.exposed_wait_s, 0.0);  // CUDA events on the compute stream
  EXPECT_LT(stats.exposed_wait_s, 60.0);
}

// SyncBN and AMM take their statistics through NCCL (forward sums and maxima,
// backward sums): equal to the same layers on the GPU with a one-rank
// "all-reduce", and to the CPU within float rounding.
TEST(NcclWorldOne, BatchNormAndAmmStatisticsThroughNccl) {
  REQUIRE_GPU();
  if (dist_test::world().size() != 1) GTEST_SKIP() << "NCCL refuses two ranks on one GPU: np 1";
  auto comm = nccl_world_one();
  auto identity = std::make_shared<nn::StatSync>();
  identity->sum = [](torch::Tensor&) {};
  identity->max = [](torch::Tensor&) {};
  auto run = [](nn::StatSyncPtr sync, torch::Device device) {
    nn::BatchNorm bn(4);
    nn::Amm amm(4);
    bn->to(device);
    amm->to(device);
    bn->set_sync(sync);
    amm->set_sync(sync);
    torch::manual_seed(4);
    torch::Tensor x = (torch::randn({8, 4, 5, 5}) * 3 + 1).to(device).requires_grad_();
    torch::Tensor w = torch::randn({8, 4, 5, 5}).to(device);
    (amm->forward(bn->forward(x)) * w).sum().backward();
    return std::vector<torch::Tensor>{host(x.grad()),         host(bn->weight.grad()),
                                      host(bn->running_mean), host(bn->running_var),
                                      host(amm->running_min), host(amm->running_max),
                                      host(amm->extreme_max)};
  };
  const auto nccl = run(dist_test::ranks_sync(comm), kGpu);
  const auto gpu = run(identity, kGpu);
  const auto cpu = run(identity, torch::kCPU);
  for (size_t i = 0; i < nccl.size(); ++i) {
    EXPECT_TRUE(torch::equal(nccl[i], gpu[i])) << i;
    EXPECT_TRUE(torch::allclose(nccl[i], cpu[i], 1e-4, 1e-5)) << i;
  }
}

// ------------------------------------------------------------------ MPI staging, 2 ranks, one GPU

TEST(MpiStaging, CudaTensorsBitwiseEqualTheCpuPath) {
  REQUIRE_RANKS();
  REQUIRE_GPU();
  auto comm = dist_test::world_ptr();  // the MPI backend: CUDA tensors staged through pinned memory
  const int r = comm->rank(), n = comm->size();
  torch::manual_seed(10 + r);
  const torch::Tensor x = torch::randn({4099});
  for (auto op :
       {dist::ReduceOp::kSum, dist::ReduceOp::kMin, dist::ReduceOp::kMax, dist::ReduceOp::kAvg}) {
    torch::Tensor cpu = x.clone(), blocking = x.to(kGpu), async = x.to(kGpu);
    comm->all_reduce(cpu, op);
    comm->all_reduce(blocking, op);
    auto work = comm->all_reduce_async(async, op);
    work->wait();
    EXPECT_TRUE(torch::equal(host(blocking), cpu)) << "op " << static_cast<int>(op);
    EXPECT_TRUE(torch::equal(host(async), cpu)) << "op " << static_cast<int>(op);
  }
  torch::Tensor b = x.to(kGpu), bc = x.clone();
  comm->broadcast(b, n - 1);
  comm->broadcast(bc, n - 1);
  EXPECT_TRUE(torch::equal(host(b), bc));
  torch::Tensor g = comm->all_gather(x.to(kGpu));
  EXPECT_TRUE(g.is_cuda());
  EXPECT_TRUE(torch::equal(host(g), comm->all_gather(x)));
  // the reducer on CUDA parameters: its hooks run on autograd's device thread
  // (MPI_THREAD_MULTIPLE); the result is the CPU path's on the same local
  // gradients: scaled by n_r/N, summed over the ranks
  torch::manual_seed(0);
  auto w = torch::randn({64, 33}).to(kGpu).set_requires_grad(true);
  dist::ReducerOptions opts;
  opts.first_bucket_bytes = 1000;
  dist::GradientReducer reducer(comm, {{"w", w}}, opts);
  torch::manual_seed(20 + r);
  torch::Tensor c = torch::randn({64, 33}).to(kGpu);
  reducer.begin_step(r + 1, int64_t(n) * (n + 1) / 2);
  (w * c).pow(2).sum().backward();
  reducer.finish_step();
  auto w2 = w.detach().clone().set_requires_grad(true);
  (w2 * c).pow(2).sum().backward();
  torch::Tensor want = host(w2.grad()) * (double(r + 1) / double(int64_t(n) * (n + 1) / 2));
  comm->all_reduce(want, dist::ReduceOp::kSum);
  EXPECT_TRUE(torch::equal(host(w.grad()), want));
}
