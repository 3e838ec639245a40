// NCCL backend for CUDA tensors (built only where the CUDA toolkit and NCCL
// are found; see cmake/Dependencies.cmake).
//
// Bootstrapped through MPI: rank 0 makes the unique id and broadcasts it.
// One GPU per rank, chosen from the local rank; NCCL runs on its own stream,
// ordered after the work that produced the tensor by a CUDA event recorded on
// the legacy default stream (where LibTorch's kernels run unless told
// otherwise). CPU tensors (counts, config hashes) go through MPI. Every CUDA
// and NCCL call is checked; on an error the
// communicator is aborted (ncclCommAbort), not destroyed.
#pragma once

#include <memory>

#include "dist/communicator.h"
#include "dist/mpi_communicator.h"

namespace sisyphus::dist {

// Visible GPUs; 0 where the CUDA runtime finds none (no error).
int nccl_gpu_count();

struct NcclState;  // CUDA/NCCL handles, kept out of this header

class NcclCommunicator : public Communicator {
 public:
  explicit NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi);
  ~NcclCommunicator() override;
  std::string backend() const override { return "nccl"; }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int device() const override;
  std::unique_ptr<Work> all_reduce_async(torch::Tensor& t, ReduceOp op) override;
  void broadcast(torch::Tensor& t, int root) override;
  torch::Tensor all_gather(const torch::Tensor& t) override;
  void barrier() override;
  [[noreturn]] void abort(int code) override;

 private:
  std::shared_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<NcclState> state_;
};

}  // namespace sisyphus::dist
