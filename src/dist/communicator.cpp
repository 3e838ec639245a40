#include "dist/communicator.h"

#include <torch/cuda.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/hash.h"
#include "dist/local_communicator.h"
#include "dist/mpi_communicator.h"
#ifdef SISYPHUS_WITH_NCCL
#include "dist/nccl_communicator.h"
#endif

namespace sisyphus::dist {

Backend parse_backend(const std::string& name) {
  if (name == "auto") return Backend::kAuto;
  if (name == "local") return Backend::kLocal;
  if (name == "mpi") return Backend::kMpi;
  if (name == "nccl") return Backend::kNccl;
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "unknown backend '" + name + "' for --backend (known: auto, local, mpi, nccl)");
}

DeviceKind parse_device(const std::string& name) {
  if (name == "auto") return DeviceKind::kAuto;
  if (name == "cpu") return DeviceKind::kCpu;
  if (name == "cuda") return DeviceKind::kCuda;
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "unknown device '" + name + "' for --device (known: auto, cpu, cuda)");
}

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

int visible_gpus() { return static_cast<int>(torch::cuda::device_count()); }

namespace {

constexpr bool kHaveNccl =
#ifdef SISYPHUS_WITH_NCCL
    true;
#else
    false;
#endif

std::string host_name() {
  char host[256] = {};
  SISYPHUS_CHECK(gethostname(host, sizeof(host) - 1) == 0, ErrorKind::kMpi,
                 std::string("gethostname failed: ") + std::strerror(errno));
  return host;
}

// What tells one GPU from another across processes: its UUID (each process
// may see it under another index, e.g. with CUDA_VISIBLE_DEVICES per task).
std::string gpu_identity(int device) {
#ifdef SISYPHUS_WITH_NCCL
  return cuda_device_uuid(device);
#else
  return "cuda:" + std::to_string(device);  // no NCCL: the answer chooses nothing
#endif
}

std::shared_ptr<Communicator> make_nccl(std::shared_ptr<MpiCommunicator> mpi, int device,
                                        double timeout_s) {
#ifdef SISYPHUS_WITH_NCCL
  return std::make_shared<NcclCommunicator>(std::move(mpi), NcclOptions{device, timeout_s});
#else
  (void)mpi, (void)device, (void)timeout_s;
  SISYPHUS_FAIL(ErrorKind::kNccl,
                "this build has no NCCL support (HINT: build against a CUDA build of torch; "
                "launch/build.sh uses PyPI's)");
#endif
}

}  // namespace

bool gpus_shared(Communicator& comm, const std::string& host, const std::string& gpu_id) {
  const std::string key = host + '\n' + gpu_id;
  torch::Tensor mine = torch::tensor({static_cast<int64_t>(fnv1a64(key))}, torch::kInt64);
  torch::Tensor all = std::get<0>(comm.all_gather(mine).reshape({-1}).sort());
  return all.numel() > 1 &&
         all.narrow(0, 1, all.numel() - 1).eq(all.narrow(0, 0, all.numel() - 1)).any().item<bool>();
}

namespace {

Connection connect_ranks(const ConnectOptions& o) {
  const int gpus = visible_gpus();
  SISYPHUS_CHECK(o.device != DeviceKind::kCuda || gpus > 0, ErrorKind::kCuda,
                 "--device cuda: no GPU is visible to this process (HINT: --device cpu, or check "
                 "CUDA_VISIBLE_DEVICES and the driver)");
  SISYPHUS_CHECK(!(o.backend == Backend::kNccl && o.device == DeviceKind::kCpu), ErrorKind::kConfig,
                 "--backend nccl needs --device cuda (or auto); for CPU tensors use --backend mpi");
  const bool cuda = o.device == DeviceKind::kCuda || (o.device == DeviceKind::kAuto && gpus > 0);
  Connection c;
  if (o.backend == Backend::kNccl)
    SISYPHUS_CHECK(gpus > 0, ErrorKind::kCuda,
                   "--backend nccl: no GPU is visible to this process "
                   "(HINT: --backend mpi on CPU machines)");

  if (o.backend == Backend::kLocal || (o.backend == Backend::kAuto && !launched_by_mpi())) {
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (size && std::atoi(size) > 1) {
      SISYPHUS_FAIL(ErrorKind::kConfig, "--backend local cannot run under mpirun with " +
                                            std::string(size) + " ranks (HINT: --backend mpi)");
    }
    c.comm = std::make_shared<LocalCommunicator>();
    c.cuda_device = cuda ? 0 : -1;
    c.why = o.backend == Backend::kLocal ? "--backend local" : "one process (not under mpirun)";
    return c;
  }

  // On a GPU autograd's device thread issues the reducer's collectives.
  auto mpi = std::make_shared<MpiCommunicator>(
      MpiOptions{.threads = cuda ? MpiThreads::kMultiple : MpiThreads::kFunneled});
  if (cuda) c.cuda_device = mpi->local_rank() % gpus;
  c.local_ranks = mpi->local_size();
  // Every rank takes part (a CPU rank's identity is its own rank: never shared).
  const bool shared_gpu =
      gpus_shared(*mpi, host_name(),
                  cuda ? gpu_identity(c.cuda_device) : "cpu rank " + std::to_string(mpi->rank()));
  if (o.backend == Backend::kNccl) {
    SISYPHUS_CHECK(!shared_gpu, ErrorKind::kNccl,
                   "--backend nccl: " + std::to_string(mpi->local_size()) +
                       " ranks on this host share " + std::to_string(gpus) +
                       " GPU(s), and NCCL refuses two ranks on one GPU "
                       "(HINT: one rank per GPU, or --backend mpi)");
    c.comm = make_nccl(std::move(mpi), c.cuda_device, o.nccl_timeout_s);
    c.why = "--backend nccl";
  } else if (o.backend == Backend::kAuto && cuda && kHaveNccl && !shared_gpu) {
    c.comm = make_nccl(std::move(mpi), c.cuda_device, o.nccl_timeout_s);
    c.why = "auto: one GPU per rank";
  } else {
    c.why = o.backend == Backend::kMpi ? "--backend mpi"
            : !cuda                    ? "auto: CPU tensors under mpirun"
            : shared_gpu
                ? "auto: " + std::to_string(mpi->local_size()) + " ranks share " +
                      std::to_string(gpus) + " GPU(s), which NCCL refuses: MPI via pinned memory"
                : "auto: this build has no NCCL: MPI via pinned memory";
    c.comm = std::move(mpi);
  }
  return c;
}

}  // namespace

Connection connect(const ConnectOptions& o) {
  Connection c = connect_ranks(o);
  c.comm->force_collectives(o.force_collectives);
  return c;
}

}  // namespace sisyphus::dist
