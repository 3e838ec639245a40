#include "dist/mpi_communicator.h"

// The C API only: Open MPI's deprecated C++ bindings need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <torch/torch.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/log.h"

namespace sisyphus::dist {
namespace {

// -1 where MPI cannot say (not initialised, or already finalised).
int world_rank_for_messages() {
  int initialized = 0, finalized = 0, rank = -1;
  if (MPI_Initialized(&initialized) != MPI_SUCCESS || !initialized) return -1;
  if (MPI_Finalized(&finalized) != MPI_SUCCESS || finalized) return -1;
  if (MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS) return -1;
  return rank;
}

// Checks an MPI return code: names the call, the rank, the file and line.
#define MPI_CHECK(call)                                                                           \
  do {                                                                                            \
    int _rc = (call);                                                                             \
    if (_rc != MPI_SUCCESS) {                                                                     \
      char _msg[MPI_MAX_ERROR_STRING];                                                            \
      int _len = 0;                                                                               \
      MPI_Error_string(_rc, _msg, &_len);                                                         \
      SISYPHUS_FAIL(ErrorKind::kMpi, std::string(#call).substr(0, std::string(#call).find('(')) + \
                                         " failed on rank " +                                     \
                                         std::to_string(world_rank_for_messages()) + ": " +       \
                                         std::string(_msg, _len) +                                \
                                         " (HINT: did every rank issue the same collectives?)");  \
    }                                                                                             \
  } while (0)

MPI_Datatype mpi_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt64:
      return MPI_INT64_T;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kUInt8:
      return MPI_UINT8_T;
    default:
      SISYPHUS_FAIL(ErrorKind::kMpi,
                    std::string("no MPI type for dtype ") + c10::toString(t.scalar_type()));
  }
}

// kAvg is a sum here; the caller divides by the world size.
MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::kMin ? MPI_MIN : op == ReduceOp::kMax ? MPI_MAX : MPI_SUM;
}

void check_tensor(const torch::Tensor& t) {
  SISYPHUS_CHECK(t.device().is_cpu() || t.is_cuda(), ErrorKind::kMpi,
                 "the MPI backend takes CPU and CUDA tensors, not " + t.device().str());
  SISYPHUS_CHECK(t.is_contiguous(), ErrorKind::kMpi, "collective on a non-contiguous tensor");
}

// The host tensor MPI works on: `t` itself, or for a CUDA tensor (every
// tensor with stage_all) a copy in pinned memory (plain memory where there is
// no GPU: the tests' CPU path).
torch::Tensor host_side(const torch::Tensor& t, bool stage_all) {
  if (!stage_all && !t.is_cuda()) return t;
  torch::Tensor host =
      torch::empty(t.sizes(), t.options().device(torch::kCPU).pinned_memory(t.is_cuda()));
  host.copy_(t);  // device -> host: waits for the kernels that produced t
  return host;
}

// Back into the staged tensor. From pinned memory the copy is asynchronous on
// the current stream; torch's host allocator keeps the block until it is done.
void copy_back(torch::Tensor& t, const torch::Tensor& host) {
  if (!host.is_same(t)) t.copy_(host, /*non_blocking=*/t.is_cuda());
}

class MpiWork : public Work {
 public:
  MpiWork(torch::Tensor t, torch::Tensor host, bool average, int size)
      : tensor_(std::move(t)), host_(std::move(host)), average_(average), size_(size) {}
  ~MpiWork() override {
    if (!done_) {
      // Never leave a request dangling: a destroyed handle still completes
      // (a destructor cannot throw: a failure is said, not raised).
      if (MPI_Wait(&request_, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        log::warn("MPI_Wait failed for an abandoned collective");
    }
  }
  MPI_Request* request() { return &request_; }
  void wait() override {
    if (done_) return;
    MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE));
    finish();
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    MPI_CHECK(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE));
    if (flag) finish();
    return done_;
  }

 private:
  void finish() {
    done_ = true;
    if (average_) host_.div_(size_);
    copy_back(tensor_, host_);
  }
  torch::Tensor tensor_;
  torch::Tensor host_;  // what MPI reduces: tensor_ or its staged copy
  bool average_;
  int size_;
  bool done_ = false;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

const char* thread_level_name(int level) {
  if (level == MPI_THREAD_SINGLE) return "MPI_THREAD_SINGLE";
  if (level == MPI_THREAD_FUNNELED) return "MPI_THREAD_FUNNELED";
  if (level == MPI_THREAD_SERIALIZED) return "MPI_THREAD_SERIALIZED";
  if (level == MPI_THREAD_MULTIPLE) return "MPI_THREAD_MULTIPLE";
  return "an unknown thread level";
}

int mpi_level(MpiThreads threads) {
  return threads == MpiThreads::kMultiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED;
}

}  // namespace

void check_thread_level(int required, int provided) {
  // The standard orders the levels: SINGLE < FUNNELED < SERIALIZED < MULTIPLE.
  SISYPHUS_CHECK(provided >= required, ErrorKind::kMpi,
                 std::string("this MPI library provides ") + thread_level_name(provided) +
                     " but the job needs " + thread_level_name(required) +
                     (required == MPI_THREAD_MULTIPLE
                          ? " (the GPU path's gradient hooks call MPI from autograd's device "
                            "thread; HINT: an MPI built with thread support, e.g. Open MPI's "
                            "default build, or --backend nccl with one GPU per rank)"
                          : " (HINT: an MPI built with thread support)"));
}

class MpiEnvironment {
 public:
  // The environment every live communicator shares; made (MPI_Init_thread) by
  // the first. A process that initialised MPI itself (mpi4py, a test's main)
  // keeps finalising it.
  static std::shared_ptr<MpiEnvironment> acquire(MpiThreads threads) {
    static std::mutex mutex;
    static std::weak_ptr<MpiEnvironment> current;  // MPI is one per process
    std::lock_guard<std::mutex> lock(mutex);
    const int required = mpi_level(threads);
    if (auto env = current.lock()) {
      check_thread_level(required, env->provided_);
      return env;
    }
    int initialized = 0, finalized = 0;
    MPI_CHECK(MPI_Initialized(&initialized));
    MPI_CHECK(MPI_Finalized(&finalized));
    SISYPHUS_CHECK(!finalized, ErrorKind::kMpi,
                   "MPI was already finalised in this process and cannot start again (HINT: keep "
                   "one communicator alive for the whole job)");
    auto env = std::shared_ptr<MpiEnvironment>(new MpiEnvironment(!initialized));
    if (initialized) {
      MPI_CHECK(MPI_Query_thread(&env->provided_));
    } else {
      MPI_CHECK(MPI_Init_thread(nullptr, nullptr, required, &env->provided_));
    }
    MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
    check_thread_level(required, env->provided_);
    current = env;
    return env;
  }
  ~MpiEnvironment() {
    int finalized = 0;
    if (owns_ && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized &&
        MPI_Finalize() != MPI_SUCCESS)
      log::warn("MPI_Finalize failed");
  }
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

 private:
  explicit MpiEnvironment(bool owns) : owns_(owns) {}
  bool owns_;  // this process's MPI_Init was ours: so is MPI_Finalize
  int provided_ = MPI_THREAD_SINGLE;
};

MpiCommunicator::MpiCommunicator(MpiOptions options)
    : stage_all_(options.stage_all), env_(MpiEnvironment::acquire(options.threads)) {
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  // Local rank: from the launcher, else by grouping ranks on the same host.
  int local = env_int("OMPI_COMM_WORLD_LOCAL_RANK", env_int("SLURM_LOCALID", -1));
  int local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", -1);
  if (local < 0 || local_size < 0) {
    MPI_Comm node;
    MPI_CHECK(
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
    MPI_CHECK(MPI_Comm_rank(node, &local));
    MPI_CHECK(MPI_Comm_size(node, &local_size));
    MPI_CHECK(MPI_Comm_free(&node));
  }
  local_rank_ = local;
  local_size_ = local_size;
}

MpiCommunicator::~MpiCommunicator() = default;

std::unique_ptr<Work> MpiCommunicator::all_reduce_async(torch::Tensor& t, ReduceOp op) {
  check_tensor(t);
  torch::Tensor host = host_side(t, stage_all_);
  auto work = std::make_unique<MpiWork>(t, host, op == ReduceOp::kAvg, size_);
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, host.data_ptr(), static_cast<int>(host.numel()),
                           mpi_type(host), mpi_op(op), MPI_COMM_WORLD, work->request()));
  return work;
}

void MpiCommunicator::all_reduce(torch::Tensor& t, ReduceOp op) {
  check_tensor(t);
  torch::Tensor host = host_side(t, stage_all_);
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, host.data_ptr(), static_cast<int>(host.numel()),
                          mpi_type(host), mpi_op(op), MPI_COMM_WORLD));
  if (op == ReduceOp::kAvg) host.div_(size_);
  copy_back(t, host);
}

void MpiCommunicator::broadcast(torch::Tensor& t, int root) {
  check_tensor(t);
  torch::Tensor host = host_side(t, stage_all_);
  MPI_CHECK(MPI_Bcast(host.data_ptr(), static_cast<int>(host.numel()), mpi_type(host), root,
                      MPI_COMM_WORLD));
  copy_back(t, host);
}

torch::Tensor MpiCommunicator::all_gather(const torch::Tensor& t) {
  torch::Tensor in = t.contiguous();
  check_tensor(in);
  torch::Tensor host_in = host_side(in, stage_all_);
  std::vector<int64_t> shape = {size_};
  for (auto d : in.sizes()) shape.push_back(d);
  torch::Tensor out = torch::empty(shape, host_in.options());
  MPI_CHECK(MPI_Allgather(host_in.data_ptr(), static_cast<int>(host_in.numel()), mpi_type(host_in),
                          out.data_ptr(), static_cast<int>(host_in.numel()), mpi_type(host_in),
                          MPI_COMM_WORLD));
  return in.is_cuda() ? out.to(in.device()) : out;
}

void MpiCommunicator::barrier() { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

void MpiCommunicator::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);  // returns only if it failed: then this process ends alone
  std::exit(code);
}

}  // namespace sisyphus::dist
