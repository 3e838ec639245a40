// Collective communication between the ranks of a data-parallel job.
//
// One interface, one implementation per backend (horovod's operation
// interface): "local" for a single process started without mpirun, "mpi"
// (non-blocking MPI collectives; CUDA tensors staged through pinned host
// memory), "nccl" for CUDA tensors, one GPU per rank, where the build has
// NCCL. All ranks must issue the same collectives in the same order.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>

#include "dist/interval_timer.h"

namespace sisyphus::dist {

enum class ReduceOp { kSum, kMin, kMax, kAvg };

// An operation in flight; wait() blocks until its result is in the tensor.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  // Lets the backend make progress without blocking; true when done.
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string backend() const = 0;  // "local", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;  // rank among the processes on this host
  // The CUDA device this rank's tensors live on, or -1 for the CPU.
  virtual int device() const { return -1; }

  // In place on a contiguous tensor; every rank passes the same shape/dtype.
  virtual std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) = 0;
  // Blocking; backends may use a faster path than async + wait.
  virtual void all_reduce(torch::Tensor& t, ReduceOp op) { all_reduce_async(t, op)->wait(); }
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  // Returns [size, ...t.shape] with every rank's tensor.
  virtual torch::Tensor all_gather(const torch::Tensor& t) = 0;
  virtual void barrier() = 0;
  // Stops every rank of the job (used when one rank fails alone).
  [[noreturn]] virtual void abort(int code) = 0;
  // Times waits on this backend's collectives (dist/interval_timer.h): the
  // host's clock, or CUDA events on the compute stream for NCCL.
  virtual std::unique_ptr<IntervalTimer> interval_timer() const {
    return std::make_unique<HostTimer>();
  }

  // Whether the job's collectives run. On one rank every collective is the
  // identity, and its users (the gradient reducer, buffer averaging, BN/AMM
  // statistics, the escape guard, evaluation counts) skip it, unless forced:
  // with force_collectives(true) they run through the backend at world 1 as
  // DDP's do, so that NCCL and the MPI staging path are exercised on one GPU
  // (--force-collectives; gpu_check and the tests). The decision lives here
  // and nowhere else.
  bool communicates() const { return size() > 1 || forced_; }
  void force_collectives(bool on) { forced_ = on; }
  // The collectives run only because they are forced (one rank).
  bool forced_alone() const { return forced_ && size() == 1; }

  // What this rank's warnings begin with (core/log.h): "[rank r] " in a job
  // of several ranks, nothing alone.
  std::string log_prefix() const {
    return size() > 1 ? "[rank " + std::to_string(rank()) + "] " : std::string();
  }

 private:
  bool forced_ = false;
};

enum class Backend { kAuto, kLocal, kMpi, kNccl };
Backend parse_backend(const std::string& name);  // Error(kConfig) for unknown names

enum class DeviceKind { kAuto, kCpu, kCuda };
DeviceKind parse_device(const std::string& name);  // auto, cpu, cuda; Error(kConfig) otherwise

// True when this process was started by mpirun/srun (Open MPI or PMIx env).
bool launched_by_mpi();

// Visible CUDA devices (0 without a GPU, a driver, or a CUDA build of torch).
int visible_gpus();

// How a job connects its ranks and where its tensors live.
struct ConnectOptions {
  Backend backend = Backend::kAuto;
  DeviceKind device = DeviceKind::kAuto;
  double nccl_timeout_s = 600;     // a NCCL collective in flight longer than this ends the job
  bool force_collectives = false;  // run collectives at world 1 too (Communicator::communicates)
};
struct Connection {
  std::shared_ptr<Communicator> comm;
  int cuda_device = -1;  // this rank's GPU (local rank modulo the visible GPUs), -1: CPU
  int local_ranks = 1;   // ranks of this job on this host (they share its cores)
  std::string why;       // how the backend and device were chosen (for the log)
};

// Whether two ranks of `comm` on one host hold the same GPU (NCCL refuses
// that). Collective: every rank passes its host name and its GPU's identity
// (the device UUID), and the answer is the same on every rank. Counting
// visible GPUs cannot tell: under Slurm's one-GPU-per-task binding every rank
// sees one GPU, all different.
bool gpus_shared(Communicator& comm, const std::string& host, const std::string& gpu_id);

// device auto: CUDA when a GPU is visible, else the CPU.
// backend auto: on CUDA, NCCL when this build has it and no two ranks of a
// host share a GPU (by UUID: gpus_shared), else MPI (CUDA tensors staged through pinned host
// memory); on the CPU, MPI under mpirun, else local. Explicit choices that cannot work (nccl
// without a GPU or NCCL, or with ranks sharing a GPU; cuda without a GPU; local under mpirun) throw
// Error(kConfig/kCuda/kNccl) with a HINT.
Connection connect(const ConnectOptions& options);

}  // namespace sisyphus::dist
