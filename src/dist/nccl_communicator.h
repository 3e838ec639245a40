// NCCL backend for CUDA tensors (built where torch is a CUDA build and NCCL is
// found: cmake/Dependencies.cmake links the NCCL of torch's own wheel).
//
// Bootstrapped through MPI: rank 0 makes the unique id and broadcasts it. One
// GPU per rank (NCCL refuses two ranks on one GPU: use --backend mpi there).
// Collectives run on a NCCL stream of torch's pool, after the work already
// queued on torch's *current* stream of the device (an event), and later
// kernels on the current stream wait for them (Work::wait). The tensor's
// memory is recorded on the NCCL stream (the caching allocator does not hand
// it out again before the collective ends) and held by the watchdog until the
// collective is seen done.
//
// Failures: a watchdog thread polls every collective in flight and
// ncclCommGetAsyncError; when one fails or takes longer than the timeout
// (--nccl-timeout), the communicator is aborted (ncclCommAbort, never
// destroyed in an error state), one line names the rank and the call, and the
// process exits non-zero (the launcher then ends the other ranks). A failing
// NCCL call throws Error(kNccl) naming the call, the rank and its own file and
// line. CPU tensors (counts, config hashes) go through MPI.
#pragma once

#include <memory>
#include <string>

#include "dist/communicator.h"
#include "dist/mpi_communicator.h"

namespace sisyphus::dist {

// Visible GPUs; 0 where there is no GPU or driver (no error).
int cuda_device_count();
// The device's UUID ("GPU-xxxxxxxx-..."), the same in every process that sees it.
std::string cuda_device_uuid(int device);

struct NcclOptions {
  int device = 0;          // the CUDA device of this rank
  double timeout_s = 600;  // a collective in flight longer than this fails the job
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi, NcclOptions options);
  ~NcclCommunicator() override;
  std::string backend() const override { return "nccl"; }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int device() const override { return options_.device; }
  std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) override;
  void broadcast(torch::Tensor& t, int root) override;
  torch::Tensor all_gather(const torch::Tensor& t) override;
  void barrier() override;
  [[noreturn]] void abort(int code) override;
  // CUDA event pairs on the compute stream: the time it waited (not the enqueue).
  std::unique_ptr<IntervalTimer> interval_timer() const override;

  struct State;  // NCCL/CUDA handles and the watchdog, kept out of this header

 private:
  std::shared_ptr<MpiCommunicator> mpi_;
  NcclOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace sisyphus::dist
