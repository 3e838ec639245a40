// Collective communication between the ranks of a data-parallel job.
//
// One interface, one implementation per backend (STYLE.md: horovod's
// operation interface): "local" for a single process started without
// mpirun, "mpi" for CPU tensors (non-blocking MPI collectives), "nccl" for
// CUDA tensors where the build has NCCL. All ranks must issue the same
// collectives in the same order.
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

// True when this process was started by mpirun/srun (Open MPI or PMIx env).
bool launched_by_mpi();

// auto: NCCL when this build has it and a GPU is visible, MPI under mpirun,
// local otherwise. Throws Error(kNccl) when nccl is asked for but this build
// has no NCCL support or the machine has no GPU.
std::shared_ptr<Communicator> make_communicator(Backend backend);

}  // namespace sisyphus::dist
