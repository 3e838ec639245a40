#include "train/job.h"

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "dist/sync.h"
#include "io/checkpoint.h"
#include "nn/amm.h"

namespace sisyphus::train {
namespace {

// FNV-1a over the bytes of every parameter and buffer, in state_dict order.
uint64_t state_checksum(const torch::nn::Module& module) {
  uint64_t h = kFnvOffset;
  for (const auto& [name, t] : io::module_state(module)) {
    torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
    h = fnv1a64(c.data_ptr(), static_cast<size_t>(c.numel() * c.element_size()), h);
  }
  return h;
}

}  // namespace

void set_torch_threads(int threads) {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  int local_ranks = local ? std::max(1, std::atoi(local)) : 1;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int n = threads > 0 ? threads : std::max(1, cores / local_ranks);
  torch::set_num_threads(n);
  static bool interop_set = false;  // may be set only once per process
  if (!interop_set) {
    torch::set_num_interop_threads(1);
    interop_set = true;
  }
}

Job start_job(const std::string& backend, int threads, const DeviceConfig& dev) {
  Job job;
  dist::Connection c = dist::connect({dist::parse_backend(backend), dist::parse_device(dev.device), dev.nccl_timeout});
  job.comm = c.comm;
  dist::set_active(job.comm);
  job.rank = job.comm->rank();
  job.world = job.comm->size();
  log::set_rank(job.rank, job.world);
  log::detail(tune_malloc());  // --verbose shows it
  set_torch_threads(threads);
  if (c.cuda_device >= 0) job.place.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(c.cuda_device));
  job.place.precision = parse_precision(dev.precision);
  job.place.channels_last = dev.channels_last;
  use_device(job.place, dev.cudnn_benchmark);
  log::info("device: " + job.place.device.str() + ", backend " + job.comm->backend() + " (" + c.why + "), " +
            dev.precision + (dev.channels_last ? ", channels-last" : ""));
  return job;
}

torch::Tensor rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_rng_state(const torch::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

void verify_ranks(dist::Communicator& comm, const torch::nn::Module& module, const std::string& when) {
  torch::Tensor mine = torch::tensor({static_cast<int64_t>(state_checksum(module))}, torch::kInt64);
  torch::Tensor all = comm.all_gather(mine).reshape({-1});
  std::string list;
  for (int64_t r = 0; r < all.size(0); ++r) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(all[r].item<int64_t>()));
    list += (r ? " " : "") + std::string(buf);
  }
  bool same = all.eq(all[0]).all().item<bool>();
  log::info("ranks: " + when + " parameter+buffer checksums " + list +
            (same ? " (identical on " + std::to_string(comm.size()) + " ranks)" : " (DIFFERENT)"));
  if (!same) SISYPHUS_FAIL(ErrorKind::kMpi, "ranks hold different parameters after " + when + ": checksums " + list);
}

namespace {
SyncTime g_amm_time;

void timed_all_reduce(dist::Communicator& comm, torch::Tensor& t, dist::ReduceOp op) {
  const auto t0 = Clock::now();
  comm.all_reduce(t, op);
  g_amm_time.calls += 1;
  g_amm_time.seconds += seconds_since(t0);
}
}  // namespace

void install_amm_sync(const Job& job) {
  if (job.world == 1) {
    nn::set_amm_sync({});
    return;
  }
  std::shared_ptr<dist::Communicator> comm = job.comm;
  nn::AmmSync sync;
  sync.max = [comm](torch::Tensor& t) { timed_all_reduce(*comm, t, dist::ReduceOp::kMax); };
  sync.sum = [comm](torch::Tensor& t) { timed_all_reduce(*comm, t, dist::ReduceOp::kSum); };
  nn::set_amm_sync(std::move(sync));
}

SyncTime amm_sync_time() { return g_amm_time; }

std::string prepare_run_dir(const Job& job, const std::string& checkpoint_dir, const std::string& run,
                            bool resume) {
  const std::string run_dir = checkpoint_dir + "/" + run;
  const std::string last_path = run_dir + "/last.h5";
  if (job.rank == 0) fs::make_dirs(run_dir);
  if (!resume && fs::file_exists(last_path)) {
    SISYPHUS_FAIL(ErrorKind::kConfig, "run '" + run + "' already has a checkpoint (" + last_path +
                                          "); pass --resume to continue it or --run to start another run");
  }
  return last_path;
}

Splits load_splits(const data::DatasetSpec& spec, const std::string& dir, int64_t train_limit,
                   int64_t test_limit) {
  Splits s{data::load_split(spec, dir, /*train=*/true), data::load_split(spec, dir, /*train=*/false)};
  s.train.truncate(train_limit);
  s.test.truncate(test_limit);
  return s;
}

nn::NetShape shape_of(const data::DatasetSpec& spec, bool batchnorm) {
  return nn::NetShape{spec.channels, spec.size, spec.num_classes, batchnorm};
}

torch::Tensor probe_input(const data::DatasetSpec& spec) {
  return torch::zeros({1, spec.channels, spec.size, spec.size});
}


}  // namespace sisyphus::train
