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
  double nccl_timeout_s = 600;  // a NCCL collective in flight longer than this ends the job
};
struct Connection {
  std::shared_ptr<Communicator> comm;
  int cuda_device = -1;  // this rank's GPU (local rank modulo the visible GPUs), -1: CPU
  int local_ranks = 1;   // ranks of this job on this host (they share its cores)
  std::string why;       // how the backend and device were chosen (for the log)
};

// device auto: CUDA when a GPU is visible, else the CPU.
// backend auto: on CUDA, NCCL when this build has it and no two ranks of a
// host share a GPU, else MPI (CUDA tensors staged through pinned host memory);
// on the CPU, MPI under mpirun, else local. Explicit choices that cannot work
// (nccl without a GPU or NCCL, or with ranks sharing a GPU; cuda without a
// GPU; local under mpirun) throw Error(kConfig/kCuda/kNccl) with a HINT.
Connection connect(const ConnectOptions& options);

}  // namespace sisyphus::dist
