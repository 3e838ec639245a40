#include "engine/device.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <cstdlib>

#ifdef SISYPHUS_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "core/error.h"
#include "nn/batchnorm.h"

namespace sisyphus::train {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "bf16") return Precision::kBf16;
  if (name == "fp64") return Precision::kFp64;
  SISYPHUS_FAIL(ErrorKind::kConfig,
                "unknown precision '" + name + "' for --precision (known: fp32, bf16, fp64)");
}

void use_device(const Placement& place, bool cudnn_benchmark, bool deterministic) {
  if (!place.cuda()) return;
#ifdef SISYPHUS_WITH_CUDA
  c10::cuda::set_device(place.device.index());
  at::globalContext().setBenchmarkCuDNN(cudnn_benchmark && !deterministic);
  if (deterministic) {
    // cuBLAS reads it when its first handle is made: before any GEMM. As torch's docs ask.
    if (!std::getenv("CUBLAS_WORKSPACE_CONFIG"))
      SISYPHUS_CHECK(setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0) == 0, ErrorKind::kCuda,
                     "setenv(CUBLAS_WORKSPACE_CONFIG) failed");
    at::globalContext().setDeterministicCuDNN(true);
    // warn, not fail, on an op without a deterministic kernel: gpu_check runs twice to see it
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  }
#else
  (void)cudnn_benchmark, (void)deterministic;
  SISYPHUS_FAIL(ErrorKind::kCuda,
                "this build has no CUDA support (HINT: build against a CUDA torch)");
#endif
}

std::string cpu_bf16_advice(const Placement& place) {
  if (place.precision != Precision::kBf16 || place.cuda()) return "";
  // The operator torch.ops.mkldnn._is_mkldnn_bf16_supported(): the test
  // torch's CPU convolutions make before taking oneDNN's bf16 kernels.
  auto op = c10::Dispatcher::singleton().findSchema({"mkldnn::_is_mkldnn_bf16_supported", ""});
  if (!op || op->typed<bool()>().call()) return "";
  return "warning: --precision bf16 on a CPU without oneDNN bf16 kernels (they need AVX-512 "
         "BW/VL/DQ, AVX-NE-CONVERT or AMX): torch computes bf16 convolutions on its slow "
         "reference path here, about 10x slower than fp32 (docs/benchmarks.md); use fp32";
}

void place_module(torch::nn::Module& module, const Placement& place) {
  module.to(place.device);
  torch::NoGradGuard no_grad;
  if (place.precision == Precision::kFp64) {
    // Module::to(dtype) would turn the integer counters (num_batches_tracked,
    // AMM's batch counts) into doubles too: floating tensors only.
    for (auto& p : module.parameters())
      if (p.is_floating_point()) p.set_data(p.to(torch::kFloat64));
    for (auto& b : module.buffers())
      if (b.is_floating_point()) b.set_data(b.to(torch::kFloat64));
  }
  for (auto& m : module.modules())
    if (auto* bn = m->as<nn::BatchNormImpl>()) bn->set_fuse_relu(place.fused_bn_relu);
  if (!place.channels_last) return;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
}

AutocastScope::AutocastScope(const Placement& place) {
  if (place.precision != Precision::kBf16) return;
  active_ = true;
  type_ = place.device.type();
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Leaving the outermost scope drops the casted weight copies (they are
  // valid for one step only: the weights change).
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
}

#ifdef SISYPHUS_WITH_CUDA
struct DeviceFeed::CudaState {
  c10::cuda::CUDAStream copy_stream;
  at::cuda::CUDAEvent ready;
};
#else
struct DeviceFeed::CudaState {};
#endif

DeviceFeed::DeviceFeed(data::BatchLoader& loader, const data::DatasetSpec& spec,
                       const Placement& place)
    : loader_(loader), spec_(spec), place_(place) {
#ifdef SISYPHUS_WITH_CUDA
  if (place_.cuda()) {
    cuda_.reset(
        new CudaState{c10::cuda::getStreamFromPool(/*isHighPriority=*/false, place_.device.index()),
                      at::cuda::CUDAEvent()});
  }
#endif
  stage();
}

DeviceFeed::~DeviceFeed() = default;

void DeviceFeed::stage() {
  data::Batch host;
  have_staged_ = loader_.next(&host);
  if (!have_staged_) return;
  if (!place_.cuda()) {
    if (place_.dtype() != host.images.scalar_type()) host.images = host.images.to(place_.dtype());
    if (place_.channels_last) host.images = host.images.contiguous(place_.image_format());
    staged_ = std::move(host);
    return;
  }
#ifdef SISYPHUS_WITH_CUDA
  c10::cuda::CUDAStreamGuard guard(cuda_->copy_stream);
  staged_.images =
      host.images.to(place_.device, /*non_blocking=*/true).contiguous(place_.image_format());
  staged_.labels = host.labels.to(place_.device, /*non_blocking=*/true);
  cuda_->ready.record(cuda_->copy_stream);
#endif
}

data::Batch DeviceFeed::next() {
  if (!have_staged_) {
    data::Batch empty;
    empty.images = torch::zeros({0, spec_.channels, spec_.size, spec_.size},
                                torch::TensorOptions().dtype(place_.dtype()).device(place_.device));
    empty.labels =
        torch::zeros({0}, torch::TensorOptions().dtype(torch::kInt64).device(place_.device));
    return empty;
  }
  data::Batch out = std::move(staged_);
#ifdef SISYPHUS_WITH_CUDA
  if (place_.cuda()) {
    c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(place_.device.index());
    cuda_->ready.block(current);
    // Made on the copy stream, used on the current one: the caching
    // allocator must not recycle them before the current stream is done.
    for (auto* t : {&out.images, &out.labels})
      c10::cuda::CUDACachingAllocator::recordStream(t->storage().data_ptr(), current);
  }
#endif
  stage();  // the next copy runs while the caller computes on `out`
  return out;
}

}  // namespace sisyphus::train
