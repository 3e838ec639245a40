// MPI backend: MPI_Iallreduce so that gradient buckets are reduced while the
// backward pass goes on; MPI_ERRORS_RETURN with every call checked (the
// failing call and the rank are named in the error).
//
// CUDA tensors are staged through pinned host memory: copied to the host,
// reduced there, copied back (asynchronously, ordered on torch's current
// stream). That lets R ranks share one GPU, which NCCL refuses; it costs two
// PCIe copies per collective. `stage_all` sends CPU tensors through the same
// path, so that the staging logic is tested on machines without a GPU.
// MPI is initialised once per process (MPI_THREAD_FUNNELED: only the main
// thread calls MPI) and finalised at exit.
#pragma once

#include "dist/communicator.h"

namespace sisyphus::dist {

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(bool stage_all = false);  // initialises MPI on first use
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
};

}  // namespace sisyphus::dist
