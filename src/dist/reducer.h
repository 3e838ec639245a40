// The gradient reducer: PyTorch DDP's bucketed all-reduce, overlapped with
// the backward pass (flashlight's two-method add/finalize Reducer).
//
// At construction the trainable parameters (requires_grad true; frozen ones
// are skipped, so a QuaIL stage that trains one layer communicates only that
// layer) are assigned, in reverse order, to flat float buckets: the first
// holds up to `first_bucket_bytes`, the others up to `bucket_bytes`. During
// backward a hook copies each gradient into its bucket, scaled by
// local_count / global_count (one multiply per bucket); when a bucket is complete its all-reduce
// (sum) starts, always in bucket order so every rank issues the same collectives. The last bucket
// is complete only when backward is (nearly) done, so it is reduced with a blocking all-reduce
// (faster in MPI than non-blocking). finish_step() waits for all buckets and makes each parameter's
// .grad the global mean gradient, exactly what one process would compute over the union of all
// ranks' batches (uneven last batches included). When the communicator does not communicate (one
// rank: the gradients are the mean already) the reducer does nothing, so the trainers always have
// one instead of branching on the number of ranks; with forced collectives it runs its buckets
// at world 1 too (Communicator::communicates).
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.h"

namespace sisyphus::dist {

struct ReducerOptions {
  int64_t bucket_bytes = 25 << 20;       // 25 MiB, as DDP
  int64_t first_bucket_bytes = 1 << 20;  // small first bucket: starts communicating early
};
// Buckets of `bucket_mb` MiB (--bucket-mb), the first at most 1 MiB.
ReducerOptions reducer_options(double bucket_mb);

struct ReducerStats {
  int64_t steps = 0;
  int64_t bytes_reduced = 0;  // payload all-reduced, summed over steps
  // Time the step spent waiting for communication (the waits and the last bucket): the host's
  // clock on host-side backends, the compute stream's on NCCL (dist/interval_timer.h).
  double exposed_wait_s = 0;
};

class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<Communicator> comm,
                  std::vector<std::pair<std::string, torch::Tensor>> params,
                  ReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before backward. local_count: samples behind this rank's (mean) loss, 0
  // when this rank has no batch this step (it still takes part with zeros);
  // global_count: samples over all ranks.
  void begin_step(int64_t local_count, int64_t global_count);
  // After backward: all buckets reduced, .grad set on every reduced parameter.
  void finish_step();

  const std::vector<std::string>& reduced_names() const { return names_; }
  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t bucket_of(size_t param_index) const { return slots_.at(param_index).bucket; }
  // Resolving a device timer waits for the stream to pass the last timed wait.
  ReducerStats stats() const;
  // Whether this rank's own gradients of the last step held NaN/Inf, seen
  // before they were all-reduced (after, every rank's are NaN alike): a 0-dim
  // bool tensor on the gradients' device, undefined on one rank. Read it
  // with the step's other figures (one transfer).
  const torch::Tensor& local_nonfinite() const { return nonfinite_; }

 private:
  struct Slot {
    int64_t bucket = 0;
    int64_t offset = 0;  // in elements, inside the bucket
    torch::Tensor view;  // the parameter's shape, aliasing its part of the bucket
    bool ready = false;
  };
  struct Bucket {
    torch::Tensor flat;  // float32 [elements]
    int64_t pending = 0;
    std::unique_ptr<Work> work;
  };

  void on_grad(size_t index, const torch::Tensor& grad);
  void launch_ready_buckets();

  std::shared_ptr<Communicator> comm_;
  std::vector<std::string> names_;
  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  std::vector<unsigned> hook_ids_;
  size_t next_launch_ = 0;
  double scale_ = 1.0;
  bool in_step_ = false;
  torch::Tensor nonfinite_;
  // A fault for the tests (docs/reliability.md): SISYPHUS_FAULT_NAN_GRAD=R:S
  // makes rank R's gradients NaN at its S-th reduced step (1-based).
  int64_t fault_step_ = 0;
  ReducerStats stats_;  // all but exposed_wait_s, which wait_timer_ holds
  std::unique_ptr<IntervalTimer> wait_timer_;
};

}  // namespace sisyphus::dist
