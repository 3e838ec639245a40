// Where a job computes, and the pieces of the GPU path (docs/gpu.md):
//   - the network on the device, conv weights NHWC with --channels-last;
//   - DeviceFeed: batches from pinned host memory, copied on a side stream
//     while the previous step computes (one batch ahead);
//   - AutocastScope: the forward pass in bf16 under --precision bf16
//     (polynomial activations and AMM force fp32 themselves: nn/activation.h).
// On the CPU every piece is a plain copy or a no-op, so one trainer serves both.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>

#include "data/dataset.h"
#include "data/loader.h"

namespace sisyphus::train {

// kFp64: a test precision (CPU only): every floating tensor of the network,
// its inputs, the optimizer and the collectives in double, so that runs that
// must agree (R ranks x B against 1 rank x RB) agree far below float32's
// rounding.
enum class Precision { kFp32, kBf16, kFp64 };
Precision parse_precision(const std::string& name);  // fp32, bf16, fp64; Error(kConfig) otherwise

struct Placement {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;
  bool channels_last = false;
  bool fused_bn_relu = false;  // BN + ReLU in one kernel each way where they suit it (nn/bn_relu.h)
  bool cuda() const { return device.is_cuda(); }
  // the dtype of parameters, buffers and inputs (bf16 autocasts inside fp32)
  torch::ScalarType dtype() const {
    return precision == Precision::kFp64 ? torch::kFloat64 : torch::kFloat32;
  }
  torch::MemoryFormat image_format() const {
    return channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  }
};

// Makes the placement's GPU current for this process and sets cuDNN's
// autotuning, or with `deterministic` deterministic cuDNN and torch
// algorithms without autotuning (and cuBLAS's fixed workspace where the
// environment does not set one); nothing on the CPU. Error(kCuda) when this
// build has no CUDA.
void use_device(const Placement& place, bool cudnn_benchmark, bool deterministic = false);
// Empty, or one line of advice when `place` asks for bf16 on a CPU where
// oneDNN has no bf16 kernels (it needs AVX-512 BW/VL/DQ, AVX-NE-CONVERT or
// AMX): torch then runs bf16 convolutions on its reference path, many times
// slower than fp32 (docs/benchmarks.md). torch's own check decides.
std::string cpu_bf16_advice(const Placement& place);

// Parameters and buffers moved to the device; 4-d weights NHWC with
// channels_last; floating ones in double with fp64 (counters stay integers).
void place_module(torch::nn::Module& module, const Placement& place);

// RAII: autocast to bf16 on the placement's device type while alive (fp32: nothing).
class AutocastScope {
 public:
  explicit AutocastScope(const Placement& place);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  c10::DeviceType type_ = c10::DeviceType::CPU;
  bool was_enabled_ = false;
  c10::ScalarType was_dtype_ = c10::ScalarType::BFloat16;
};

// Batches of one loader on the job's device. On a GPU the loader fills pinned
// memory (LoaderOptions::pin_memory) and the next batch's copy starts on a
// side stream as soon as the current one is handed out, so it overlaps the
// step; the consumer's stream waits for it only when it takes the batch.
// After the loader's last batch, next() returns empty [0, C, H, W] batches
// (a rank whose shard ran out still joins the collectives).
class DeviceFeed {
 public:
  DeviceFeed(data::BatchLoader& loader, const data::DatasetSpec& spec, const Placement& place);
  ~DeviceFeed();
  data::Batch next();

 private:
  void stage();  // fetch the next host batch and start its copy
  data::BatchLoader& loader_;
  const data::DatasetSpec& spec_;
  Placement place_;
  bool have_staged_ = false;
  data::Batch staged_;
  struct CudaState;  // side stream and the staged batch's event (CUDA builds)
  std::unique_ptr<CudaState> cuda_;
};

}  // namespace sisyphus::train
