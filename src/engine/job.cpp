#include "engine/job.h"

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "core/alloc.h"
#include "core/error.h"
#include "core/log.h"
#include "dist/heartbeat.h"

namespace sisyphus::train {

void set_torch_threads(int threads, int local_ranks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads > 0 ? threads : std::max(1, cores / std::max(1, local_ranks)));
  static bool interop_set = false;  // may be set only once per process
  if (!interop_set) {
    torch::set_num_interop_threads(1);
    interop_set = true;
  }
}

Job start_job(const JobConfig& cfg) {
  const DeviceConfig& dev = cfg.dev;
  Job job;
  dist::Connection c =
      dist::connect({dist::parse_backend(cfg.backend), dist::parse_device(dev.device),
                     dev.nccl_timeout, dev.force_collectives});
  job.comm = c.comm;
  job.rank = job.comm->rank();
  job.world = job.comm->size();
  job.local_ranks = c.local_ranks;
  log::set_rank(job.rank, job.comm->log_prefix());
  const int rank = job.rank;
  job.heartbeat = dist::watch_peers(*job.comm, dev.peer_timeout, [rank](const std::string& why) {
    // The main thread may be inside a collective that never returns, and
    // MPI_Abort would wait on the lost peer too: say so once and leave.
    std::fprintf(stderr, "sisyphus: [rank %d] %s; ending this rank\n", rank, why.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  });
  log::detail(tune_malloc());  // --verbose shows it
  set_torch_threads(cfg.threads, job.local_ranks);
  if (c.cuda_device >= 0)
    job.place.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(c.cuda_device));
  job.place.precision = parse_precision(dev.precision);
  SISYPHUS_CHECK(!(job.place.precision == Precision::kFp64 && job.place.cuda()), ErrorKind::kConfig,
                 "--precision fp64 is a CPU test precision: add --device cpu");
  job.place.channels_last = dev.channels_last;
  job.place.fused_bn_relu = dev.fused_bn_relu;
  use_device(job.place, dev.cudnn_benchmark, dev.deterministic);
  log::info("device: " + job.place.device.str() + ", backend " + job.comm->backend() + " (" +
            c.why + "), " + dev.precision + (dev.channels_last ? ", channels-last" : "") +
            (dev.fused_bn_relu ? ", fused BN + ReLU" : "") +
            (job.comm->forced_alone() ? ", collectives forced at world 1" : ""));
  if (std::string advice = cpu_bf16_advice(job.place); !advice.empty()) log::info(advice);
  return job;
}

namespace {

torch::Tensor generator_state(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_generator_state(at::Generator gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

RngState rng_state(const Placement& place) {
  RngState s;
  s.cpu = generator_state(at::detail::getDefaultCPUGenerator());
  if (place.cuda()) s.cuda = generator_state(at::globalContext().defaultGenerator(place.device));
  return s;
}

void set_rng_state(const RngState& state, const Placement& place) {
  if (state.cpu.defined()) set_generator_state(at::detail::getDefaultCPUGenerator(), state.cpu);
  if (state.cuda.defined() && place.cuda())
    set_generator_state(at::globalContext().defaultGenerator(place.device), state.cuda);
}

}  // namespace sisyphus::train
