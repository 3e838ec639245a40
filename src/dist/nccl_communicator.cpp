#include "dist/nccl_communicator.h"

#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>
#include <torch/torch.h>

#include <ATen/cuda/CUDAContext.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>

#include "core/error.h"
#include "dist/watchdog.h"

namespace sisyphus::dist {

struct NcclCommunicator::State {
  ncclComm_t comm = nullptr;
  std::atomic<bool> aborted{false};
  std::optional<c10::cuda::CUDAStream> stream;  // NCCL's stream (torch's pool)
  std::unique_ptr<Watchdog> watchdog;
  int rank = 0;

  // Aborts the communicator once (an errored NCCL communicator must be
  // aborted, not destroyed); safe from the watchdog thread.
  void abort_comm() {
    bool expected = false;
    if (comm && aborted.compare_exchange_strong(expected, true)) ncclCommAbort(comm);
  }
  // A failed NCCL call: abort, then throw naming the call and its site.
  [[noreturn]] void fail(const char* call, ncclResult_t r, const char* file, int line) {
    std::string detail = ncclGetErrorString(r);
    if (comm) {
      const char* last = ncclGetLastError(comm);
      if (last && *last) detail += std::string(" (") + last + ")";
    }
    abort_comm();
    ::sisyphus::fail(ErrorKind::kNccl,
                     std::string(call) + " failed on rank " + std::to_string(rank) + ": " + detail +
                         " (HINT: NCCL_DEBUG=WARN shows NCCL's own account)",
                     file, line);
  }
};

namespace {

// Checks an NCCL return code at its own call site.
#define NCCL_CHECK(state, call)                                         \
  do {                                                                  \
    ncclResult_t _r = (call);                                           \
    if (_r != ncclSuccess) (state).fail(#call, _r, __FILE__, __LINE__); \
  } while (0)

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kInt64:
      return ncclInt64;
    case torch::kInt32:
      return ncclInt32;
    case torch::kUInt8:
      return ncclUint8;
    case torch::kInt8:
      return ncclInt8;
    default:
      SISYPHUS_FAIL(ErrorKind::kNccl,
                    std::string("no NCCL type for dtype ") + c10::toString(t.scalar_type()));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kSum:
      return ncclSum;
  }
  return ncclSum;
}

// Later kernels on the current stream wait for the collective; the host does not.
class NcclWork : public Work {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> done, int device)
      : done_(std::move(done)), device_(device) {}
  void wait() override {
    done_->block(c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)));
  }
  bool test() override { return done_->query(); }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  int device_;
};

// Event pairs recorded on the current stream around each wait; their
// elapsed times are summed as they complete (never blocking in stop()).
class CudaEventTimer : public IntervalTimer {
 public:
  explicit CudaEventTimer(int device) : device_(static_cast<c10::DeviceIndex>(device)) {}
  void start() override {
    Pair p{std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault),
           std::make_unique<at::cuda::CUDAEvent>(cudaEventDefault)};
    p.begin->record(c10::cuda::getCurrentCUDAStream(device_));
    pending_.push_back(std::move(p));
  }
  void stop() override {
    pending_.back().end->record(c10::cuda::getCurrentCUDAStream(device_));
    drain(/*wait=*/false);
  }
  double seconds() override {
    drain(/*wait=*/true);
    return total_s_;
  }

 private:
  struct Pair {
    std::unique_ptr<at::cuda::CUDAEvent> begin, end;
  };
  void drain(bool wait) {
    while (!pending_.empty()) {
      Pair& p = pending_.front();
      if (wait) p.end->synchronize();
      if (!p.end->query()) break;
      total_s_ += p.begin->elapsed_time(*p.end) / 1000.0;
      pending_.pop_front();
    }
  }
  c10::DeviceIndex device_;
  std::deque<Pair> pending_;
  double total_s_ = 0;
};

}  // namespace

int cuda_device_count() { return static_cast<int>(c10::cuda::device_count()); }

std::string cuda_device_uuid(int device) {
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(device));
  static const char* hex = "0123456789abcdef";
  std::string id = "GPU-";
  for (int i = 0; i < 16; ++i) {
    const auto b = static_cast<unsigned char>(prop->uuid.bytes[i]);
    id += hex[b >> 4];
    id += hex[b & 15];
    if (i == 3 || i == 5 || i == 7 || i == 9) id += '-';
  }
  return id;
}

std::unique_ptr<IntervalTimer> NcclCommunicator::interval_timer() const {
  return std::make_unique<CudaEventTimer>(options_.device);
}

NcclCommunicator::NcclCommunicator(std::shared_ptr<MpiCommunicator> mpi, NcclOptions options)
    : mpi_(std::move(mpi)), options_(options), state_(std::make_unique<State>()) {
  State& s = *state_;
  s.rank = mpi_->rank();
  const int gpus = cuda_device_count();
  SISYPHUS_CHECK(gpus > 0, ErrorKind::kCuda,
                 "--backend nccl: rank " + std::to_string(s.rank) +
                     " sees no GPU (HINT: --backend mpi --device cpu on CPU machines)");
  SISYPHUS_CHECK(options_.device >= 0 && options_.device < gpus, ErrorKind::kCuda,
                 "--backend nccl: rank " + std::to_string(s.rank) +
                     " was given cuda:" + std::to_string(options_.device) + " but sees " +
                     std::to_string(gpus) + " GPU(s)");
  SISYPHUS_CHECK(options_.timeout_s > 0, ErrorKind::kConfig, "--nccl-timeout must be positive");
  const auto dev = static_cast<c10::DeviceIndex>(options_.device);
  c10::cuda::CUDAGuard guard(dev);
  s.stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/true, dev);
  ncclUniqueId id;
  if (s.rank == 0) NCCL_CHECK(s, ncclGetUniqueId(&id));
  torch::Tensor id_bytes = torch::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, torch::kUInt8);
  mpi_->broadcast(id_bytes, 0);
  NCCL_CHECK(s, ncclCommInitRank(&s.comm, mpi_->size(), id, s.rank));
  State* raw = &s;
  s.watchdog = std::make_unique<Watchdog>(
      options_.timeout_s, /*interval_s=*/0.05,
      [raw](const std::string& what) {
        // No exception can reach main from here: abort, say so once, exit.
        raw->abort_comm();
        std::fprintf(stderr,
                     "sisyphus: [rank %d] NCCL failure: %s; communicator aborted, exiting\n",
                     raw->rank, what.c_str());
        std::fflush(stderr);
        std::_Exit(1);
      },
      [raw]() {
        ncclResult_t async = ncclSuccess;
        if (raw->aborted) return PollResult::pending();
        if (ncclCommGetAsyncError(raw->comm, &async) != ncclSuccess || async == ncclSuccess ||
            async == ncclInProgress)
          return PollResult::pending();
        return PollResult::failed(std::string("asynchronous NCCL error: ") +
                                  ncclGetErrorString(async));
      },
      // Its event queries run on this rank's GPU (not on GPU 0, where each
      // rank would open a context of its own).
      [dev]() { c10::cuda::set_device(dev); });
}

NcclCommunicator::~NcclCommunicator() {
  State& s = *state_;
  s.watchdog.reset();  // stops its thread; nothing watches after this
  if (s.comm && !s.aborted) {
    // Finalises (flushes what is in flight), then frees; no exception can leave a destructor.
    const ncclResult_t r = ncclCommDestroy(s.comm);
    if (r != ncclSuccess)
      std::fprintf(stderr, "sisyphus: [rank %d] ncclCommDestroy failed: %s\n", s.rank,
                   ncclGetErrorString(r));
  }
}

namespace {

void check_on_device(const torch::Tensor& t, int device, const char* what) {
  SISYPHUS_CHECK(t.is_cuda() && t.device().index() == device, ErrorKind::kNccl,
                 std::string(what) + " on a tensor on " + t.device().str() +
                     ", but this rank's NCCL "
                     "communicator is on cuda:" +
                     std::to_string(device) + " (HINT: move the tensor to the job's device)");
  SISYPHUS_CHECK(t.is_contiguous(), ErrorKind::kNccl,
                 std::string(what) + " on a non-contiguous tensor");
}

// Runs `launch` on the NCCL stream after the current stream's queued work;
// returns the event that marks its end, watched until done.
template <typename Launch>
std::shared_ptr<at::cuda::CUDAEvent> enqueue(NcclCommunicator::State& s, int device,
                                             const std::string& what,
                                             std::vector<torch::Tensor> touched, Launch launch) {
  const auto dev = static_cast<c10::DeviceIndex>(device);
  c10::cuda::CUDAGuard guard(dev);
  c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(dev);
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(*s.stream);
  // The caching allocator must not reuse these blocks before NCCL is done.
  for (auto& t : touched)
    c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), *s.stream);
  launch(s.stream->stream());
  auto done = std::make_shared<at::cuda::CUDAEvent>();
  done->record(*s.stream);
  s.watchdog->watch(what, [done, touched]() {  // `touched` lives until the collective is done
    try {
      return done->query() ? PollResult::done() : PollResult::pending();
    } catch (const std::exception& e) {
      return PollResult::failed(e.what());
    }
  });
  return done;
}

std::string describe(const char* call, const torch::Tensor& t) {
  return std::string(call) + "(" + std::to_string(t.numel()) + " x " +
         c10::toString(t.scalar_type()) + ")";
}

}  // namespace

std::unique_ptr<Work> NcclCommunicator::all_reduce_async(torch::Tensor& t, ReduceOp op) {
  if (t.device().is_cpu()) return mpi_->all_reduce_async(t, op);
  check_on_device(t, options_.device, "all-reduce");
  State& s = *state_;
  auto done =
      enqueue(s, options_.device, describe("ncclAllReduce", t), {t}, [&](cudaStream_t stream) {
        NCCL_CHECK(s, ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                                    nccl_type(t), nccl_op(op), s.comm, stream));
      });
  return std::make_unique<NcclWork>(std::move(done), options_.device);
}

void NcclCommunicator::broadcast(torch::Tensor& t, int root) {
  if (t.device().is_cpu()) return mpi_->broadcast(t, root);
  check_on_device(t, options_.device, "broadcast");
  State& s = *state_;
  auto done =
      enqueue(s, options_.device, describe("ncclBroadcast", t), {t}, [&](cudaStream_t stream) {
        NCCL_CHECK(s, ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()),
                                    nccl_type(t), root, s.comm, stream));
      });
  NcclWork(std::move(done), options_.device).wait();
}

torch::Tensor NcclCommunicator::all_gather(const torch::Tensor& t) {
  if (t.device().is_cpu()) return mpi_->all_gather(t);
  torch::Tensor in = t.contiguous();
  check_on_device(in, options_.device, "all-gather");
  std::vector<int64_t> shape = {size()};
  for (auto d : in.sizes()) shape.push_back(d);
  torch::Tensor out = torch::empty(shape, in.options());
  State& s = *state_;
  auto done = enqueue(
      s, options_.device, describe("ncclAllGather", in), {in, out}, [&](cudaStream_t stream) {
        NCCL_CHECK(s, ncclAllGather(in.data_ptr(), out.data_ptr(), static_cast<size_t>(in.numel()),
                                    nccl_type(in), s.comm, stream));
      });
  NcclWork(std::move(done), options_.device).wait();
  return out;
}

void NcclCommunicator::barrier() { mpi_->barrier(); }

void NcclCommunicator::abort(int code) {
  state_->abort_comm();
  mpi_->abort(code);
  std::_Exit(code);  // not reached: MPI's abort does not return
}

}  // namespace sisyphus::dist
