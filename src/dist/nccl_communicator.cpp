#include "dist/nccl_communicator.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <torch/torch.h>

#include "core/error.h"

namespace sisyphus::dist {

struct NcclState {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  int device = -1;
  bool aborted = false;
};

namespace {

NcclState* g_state_for_abort = nullptr;

[[noreturn]] void nccl_fail(const std::string& call, const std::string& what, int rank) {
  // An NCCL communicator in an error state must be aborted, not destroyed.
  if (g_state_for_abort && g_state_for_abort->comm && !g_state_for_abort->aborted) {
    ncclCommAbort(g_state_for_abort->comm);
    g_state_for_abort->aborted = true;
  }
  SISYPHUS_FAIL(ErrorKind::kNccl, call + " failed on rank " + std::to_string(rank) + ": " + what);
}

#define CUDA_CHECK(call, rank)                                                   \
  do {                                                                           \
    cudaError_t _e = (call);                                                     \
    if (_e != cudaSuccess) nccl_fail(#call, cudaGetErrorString(_e), (rank));     \
  } while (0)

#define NCCL_CHECK(call, rank)                                                   \
  do {                                                                           \
    ncclResult_t _r = (call);                                                    \
    if (_r != ncclSuccess) nccl_fail(#call, ncclGetErrorString(_r), (rank));     \
  } while (0)

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kFloat16: return ncclFloat16;
    case torch::kInt64: return ncclInt64;
    case torch::kInt32: return ncclInt32;
    case torch::kUInt8: return ncclUint8;
    default:
      SISYPHUS_FAIL(ErrorKind::kNccl, std::string("no NCCL type for dtype ") +
                                          c10::toString(t.scalar_type()));
  }
}

class NcclWork : public Work {
 public:
  NcclWork(NcclState* s, cudaEvent_t done, int rank) : s_(s), done_(done), rank_(rank) {}
  ~NcclWork() override {
    if (done_) {
      cudaEventSynchronize(done_);
      cudaEventDestroy(done_);
    }
  }
  void wait() override {
    // Later kernels on the default stream wait for the collective.
    CUDA_CHECK(cudaStreamWaitEvent(cudaStreamLegacy, done_, 0), rank_);
  }
  bool test() override { return cudaEventQuery(done_) == cudaSuccess; }

 private:
  NcclState* s_;
  cudaEvent_t done_;
  int rank_;
};

}  // namespace

int nccl_gpu_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi)
    : mpi_(std::move(mpi)), state_(std::make_unique<NcclState>()) {
  const int rank = mpi_->rank();
  int gpus = nccl_gpu_count();
  if (gpus == 0) {
    SISYPHUS_FAIL(ErrorKind::kNccl, "--backend nccl: rank " + std::to_string(rank) +
                                        " sees no GPU (HINT: --backend mpi on CPU machines)");
  }
  state_->device = mpi_->local_rank() % gpus;
  CUDA_CHECK(cudaSetDevice(state_->device), rank);
  CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), rank);
  ncclUniqueId id;
  if (rank == 0) NCCL_CHECK(ncclGetUniqueId(&id), rank);
  torch::Tensor id_bytes = torch::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, torch::kUInt8);
  mpi_->broadcast(id_bytes, 0);
  g_state_for_abort = state_.get();
  NCCL_CHECK(ncclCommInitRank(&state_->comm, mpi_->size(), id, rank), rank);
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->comm && !state_->aborted) ncclCommDestroy(state_->comm);
  if (state_->stream) cudaStreamDestroy(state_->stream);
  if (g_state_for_abort == state_.get()) g_state_for_abort = nullptr;
}

int NcclCommunicator::device() const { return state_->device; }

std::unique_ptr<Work> NcclCommunicator::all_reduce_async(torch::Tensor& t, ReduceOp op) {
  if (!t.is_cuda()) return mpi_->all_reduce_async(t, op);
  const int rank = mpi_->rank();
  SISYPHUS_CHECK(t.is_cuda() && t.is_contiguous(), ErrorKind::kNccl,
                 "the NCCL backend reduces contiguous CUDA tensors only");
  ncclRedOp_t nop = op == ReduceOp::kMin   ? ncclMin
                    : op == ReduceOp::kMax ? ncclMax
                    : op == ReduceOp::kAvg ? ncclAvg
                                           : ncclSum;
  cudaEvent_t ready, done;
  CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), rank);
  CUDA_CHECK(cudaEventRecord(ready, cudaStreamLegacy), rank);
  CUDA_CHECK(cudaStreamWaitEvent(state_->stream, ready, 0), rank);
  CUDA_CHECK(cudaEventDestroy(ready), rank);
  NCCL_CHECK(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t),
                           nop, state_->comm, state_->stream),
             rank);
  CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), rank);
  CUDA_CHECK(cudaEventRecord(done, state_->stream), rank);
  return std::make_unique<NcclWork>(state_.get(), done, rank);
}

void NcclCommunicator::broadcast(torch::Tensor& t, int root) {
  if (!t.is_cuda()) return mpi_->broadcast(t, root);
  const int rank = mpi_->rank();
  SISYPHUS_CHECK(t.is_cuda() && t.is_contiguous(), ErrorKind::kNccl,
                 "the NCCL backend broadcasts contiguous CUDA tensors only");
  CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy), rank);
  NCCL_CHECK(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), nccl_type(t),
                           root, state_->comm, state_->stream),
             rank);
  CUDA_CHECK(cudaStreamSynchronize(state_->stream), rank);
}

torch::Tensor NcclCommunicator::all_gather(const torch::Tensor& t) {
  if (!t.is_cuda()) return mpi_->all_gather(t);
  const int rank = mpi_->rank();
  torch::Tensor in = t.contiguous();
  std::vector<int64_t> shape = {size()};
  for (auto d : in.sizes()) shape.push_back(d);
  torch::Tensor out = torch::empty(shape, in.options());
  CUDA_CHECK(cudaStreamSynchronize(cudaStreamLegacy), rank);
  NCCL_CHECK(ncclAllGather(in.data_ptr(), out.data_ptr(), static_cast<size_t>(in.numel()),
                           nccl_type(in), state_->comm, state_->stream),
             rank);
  CUDA_CHECK(cudaStreamSynchronize(state_->stream), rank);
  return out;
}

void NcclCommunicator::barrier() { mpi_->barrier(); }

void NcclCommunicator::abort(int code) {
  if (state_->comm && !state_->aborted) {
    ncclCommAbort(state_->comm);
    state_->aborted = true;
  }
  mpi_->abort(code);
  std::abort();  // not reached
}

}  // namespace sisyphus::dist
