// MPI backend: MPI_Iallreduce so that gradient buckets are reduced while the
// backward pass goes on; MPI_ERRORS_RETURN with every call checked (the
// failing call and the rank are named in the error).
//
// CUDA tensors are staged through pinned host memory: copied to the host,
// reduced there, copied back (asynchronously, ordered on torch's current
// stream). That lets R ranks share one GPU, which NCCL refuses; it costs two
// PCIe copies per collective. `stage_all` sends CPU tensors through the same
// path, so that the staging logic is tested on machines without a GPU.
//
// MPI's lifetime: the first communicator initialises MPI, and every
// communicator (the NCCL one through the MPI one it bootstraps from) holds it;
// MPI_Finalize runs when the last one is released. The job owns its
// communicator and releases it before main returns, so nothing talks to MPI,
// NCCL or the CUDA runtime after MPI_Finalize or during static destruction.
// MPI cannot be initialised twice: a communicator made after that fails with
// one clear error.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace sisyphus::dist {

// The thread support a job needs from MPI. On the CPU only the main thread
// calls MPI (autograd runs a CPU graph's hooks on the thread that called
// backward): funneled. On a GPU, autograd runs backward on its device thread,
// where the reducer's hooks issue the collectives: multiple.
enum class MpiThreads { kFunneled, kMultiple };

// Error(kMpi) naming both levels when MPI provides less thread support than
// required (MPI's MPI_THREAD_* values).
void check_thread_level(int required, int provided);

struct MpiOptions {
  bool stage_all = false;  // CPU tensors through the pinned-memory staging path (tests)
  MpiThreads threads = MpiThreads::kFunneled;
};

class MpiEnvironment;  // MPI_Init ... MPI_Finalize, shared by the communicators

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(MpiOptions options = {});  // initialises MPI on first use
  ~MpiCommunicator() override;
  std::string backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const { return local_size_; }  // ranks on this host
  std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) override;
  // MPI_Allreduce: Open MPI's tuned blocking algorithms beat the
  // non-blocking (libnbc) ones when there is nothing left to overlap.
  void all_reduce(torch::Tensor& t, ReduceOp op) override;
  void broadcast(torch::Tensor& t, int root) override;
  torch::Tensor all_gather(const torch::Tensor& t) override;
  void barrier() override;
  [[noreturn]] void abort(int code) override;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  bool stage_all_ = false;
  std::shared_ptr<MpiEnvironment> env_;  // MPI stays initialised while this lives
};

}  // namespace sisyphus::dist
