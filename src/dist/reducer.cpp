#include "dist/reducer.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "core/error.h"

namespace sisyphus::dist {

ReducerOptions reducer_options(double bucket_mb) {
  ReducerOptions o;
  o.bucket_bytes = static_cast<int64_t>(bucket_mb * (1 << 20));
  o.first_bucket_bytes = std::min<int64_t>(o.bucket_bytes, 1 << 20);
  return o;
}

GradientReducer::GradientReducer(std::shared_ptr<Communicator> comm,
                                 std::vector<std::pair<std::string, torch::Tensor>> params,
                                 ReducerOptions options)
    : comm_(std::move(comm)), wait_timer_(comm_->interval_timer()) {
  for (auto& [name, p] : params) {
    if (!p.requires_grad()) continue;  // frozen: not communicated
    SISYPHUS_CHECK(p.scalar_type() == torch::kFloat32 || p.scalar_type() == torch::kFloat64,
                   ErrorKind::kConfig,
                   "the reducer handles float32 and float64 parameters; '" + name + "' is not");
    SISYPHUS_CHECK(params_.empty() || p.scalar_type() == params_.front().scalar_type(),
                   ErrorKind::kConfig,
                   "the reducer's parameters share one dtype; '" + name + "' does not");
    names_.push_back(name);
    params_.push_back(p);
  }
  if (!comm_->communicates())
    return;  // one rank: its gradients are the mean already (no buckets, no hooks)
  if (const char* f = std::getenv("SISYPHUS_FAULT_NAN_GRAD")) {
    int rank = -1;
    long long step = 0;
    if (std::sscanf(f, "%d:%lld", &rank, &step) == 2 && rank == comm_->rank()) fault_step_ = step;
  }
  // Gradients arrive roughly in reverse order of the forward pass.
  slots_.resize(params_.size());
  int64_t cap = options.first_bucket_bytes;
  int64_t filled = 0;
  std::vector<int64_t> sizes;
  for (size_t k = params_.size(); k-- > 0;) {
    int64_t bytes = params_[k].numel() * params_[k].element_size();
    if (sizes.empty() || (filled > 0 && filled + bytes > cap)) {
      if (!sizes.empty()) cap = options.bucket_bytes;
      sizes.push_back(0);
      filled = 0;
    }
    slots_[k].bucket = static_cast<int64_t>(sizes.size()) - 1;
    slots_[k].offset = sizes.back();
    sizes.back() += params_[k].numel();
    filled += bytes;
  }
  for (int64_t elements : sizes) {
    Bucket b;
    b.flat =
        torch::zeros({elements}, params_.empty() ? torch::TensorOptions().dtype(torch::kFloat32)
                                                 : params_.front().options().requires_grad(false));
    buckets_.push_back(std::move(b));
  }
  for (size_t k = 0; k < params_.size(); ++k) {
    slots_[k].view = buckets_[static_cast<size_t>(slots_[k].bucket)]
                         .flat.narrow(0, slots_[k].offset, params_[k].numel())
                         .view(params_[k].sizes());
    hook_ids_.push_back(params_[k].register_hook([this, k](torch::Tensor grad) {
      on_grad(k, grad);
      return grad;
    }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < hook_ids_.size(); ++k) params_[k].remove_hook(hook_ids_[k]);
}

void GradientReducer::begin_step(int64_t local_count, int64_t global_count) {
  SISYPHUS_CHECK(global_count > 0, ErrorKind::kConfig, "a step over zero samples");
  if (!comm_->communicates()) return;
  scale_ = static_cast<double>(local_count) / static_cast<double>(global_count);
  for (auto& s : slots_) s.ready = false;
  for (auto& b : buckets_) {
    b.pending = 0;
    b.work.reset();
  }
  for (const auto& s : slots_) buckets_[static_cast<size_t>(s.bucket)].pending++;
  next_launch_ = 0;
  in_step_ = true;
  nonfinite_ =
      torch::zeros({}, buckets_.empty() ? torch::TensorOptions().dtype(torch::kBool)
                                        : buckets_.front().flat.options().dtype(torch::kBool));
}

void GradientReducer::on_grad(size_t k, const torch::Tensor& grad) {
  if (!in_step_) return;  // a backward outside a reduced step (e.g. a probe)
  Slot& s = slots_[k];
  Bucket& b = buckets_[static_cast<size_t>(s.bucket)];
  torch::NoGradGuard no_grad;
  // Scaled while copied into the bucket (as c10d's reducer does): one pass,
  // not a copy and then a pass over the bucket.
  if (s.ready) {
    s.view.add_(grad, scale_);  // a second gradient for the same tensor
    return;
  }
  if (scale_ == 1.0)
    s.view.copy_(grad);
  else
    torch::mul_out(s.view, grad, scale_);
  s.ready = true;
  if (--b.pending == 0) launch_ready_buckets();
  // Give in-flight non-blocking collectives a chance to progress.
  for (auto& other : buckets_)
    if (other.work) other.work->test();
}

void GradientReducer::launch_ready_buckets() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].pending == 0) {
    const bool last = next_launch_ + 1 == buckets_.size();
    Bucket& b = buckets_[next_launch_++];
    if (fault_step_ == stats_.steps + 1) b.flat.fill_(std::numeric_limits<float>::quiet_NaN());
    // NaN and +-Inf show in the min or the max (one reduction, no host sync;
    // ~10x cheaper on the CPU than isfinite().all(): bench/nonfinite_check_bench.py)
    if (b.flat.numel() > 0) {
      auto [lo, hi] = torch::aminmax(b.flat);
      nonfinite_.logical_or_(lo.isfinite().logical_and(hi.isfinite()).logical_not());
    }
    if (last) {  // nothing left to overlap with: exposed time
      TimedWait timed(*wait_timer_);
      for (auto& earlier : buckets_)
        if (earlier.work) earlier.work->wait();  // keep the order of collectives
      comm_->all_reduce(b.flat, ReduceOp::kSum);
    } else {
      b.work = comm_->all_reduce_async(b.flat, ReduceOp::kSum);
    }
    stats_.bytes_reduced += b.flat.numel() * b.flat.element_size();
  }
}

void GradientReducer::finish_step() {
  if (!comm_->communicates()) return;
  SISYPHUS_CHECK(in_step_, ErrorKind::kConfig, "finish_step() without begin_step()");
  torch::NoGradGuard no_grad;
  // Parameters that got no gradient (unused this step, or no batch on this
  // rank) contribute zeros, so every rank launches every bucket.
  for (size_t k = 0; k < slots_.size(); ++k) {
    Slot& s = slots_[k];
    if (s.ready) continue;
    Bucket& b = buckets_[static_cast<size_t>(s.bucket)];
    s.view.zero_();
    s.ready = true;
    b.pending--;
  }
  launch_ready_buckets();
  {
    TimedWait timed(*wait_timer_);
    for (auto& b : buckets_)
      if (b.work) b.work->wait();
  }
  for (size_t k = 0; k < params_.size(); ++k) params_[k].mutable_grad() = slots_[k].view;
  in_step_ = false;
  stats_.steps++;
}

ReducerStats GradientReducer::stats() const {
  ReducerStats s = stats_;
  s.exposed_wait_s = wait_timer_->seconds();
  return s;
}

}  // namespace sisyphus::dist
