// Training and data-loading throughput of sisyphus, for bench/run_train_bench.sh.
//
//   sisyphus_bench_train --mode train --net lenet --dataset fashion-mnist --steps 0
//   sisyphus_bench_train --mode load  --net resnet20 --dataset cifar10 --augment
//
// mode train: the real training step (engine/step.h) fed by the real loader;
//   under mpirun with the gradient reducer and BN buffer averaging, exactly
//   as `sisyphus train` (images/s is then the whole job's);
// mode load: the loader alone (read + augment + normalise + batch), no model;
// mode reduce: the reducer alone: a trivial backward (d loss / d p = 1 for
//   every parameter) whose gradients the reducer all-reduces in buckets;
// mode raw: the same backward, then one blocking MPI_Allreduce of all the
//   gradients flattened: the same bytes the simplest possible way;
// mode sweep: the communicator's all-reduce alone (no model, no data) on
//   messages of 4 bytes to --max-mb, each size --steps times after --warmup
//   untimed ones; prints a line per size with the median and mean time
//   (bench/run_scaling_bench.sh fits the scaling model to them). On a GPU
//   the messages are CUDA tensors (NCCL, or MPI through pinned memory), each
//   timed to its end on the device.
// --synthetic: a random in-memory data set of the data set's shape (GPU
//   machines carry no data; the loader, pinned copies and the step are real);
// --device/--precision/--channels-last as for `sisyphus train` (docs/gpu.md).
// Prints one line: "sisyphus mode=... images=... seconds=... images_per_s=...
// step_ms=... peak_mem_mb=...": the peak is the caching allocator's largest
// allocated bytes during the timed steps on a GPU (torch.cuda's
// max_memory_allocated), the process's peak resident set on the CPU.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>
#include <torch/torch.h>

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#ifdef SISYPHUS_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "dist/communicator.h"
#include "dist/reducer.h"
#include "dist/sync.h"
#include "engine/epoch.h"
#include "engine/evaluate.h"
#include "engine/job.h"
#include "engine/sgd.h"
#include "engine/step.h"
#include "nn/registry.h"

using namespace sisyphus;

namespace {

// From here on the peak counts: the GPU's allocator statistics are reset.
void reset_peak_memory(const torch::Device& device) {
#ifdef SISYPHUS_WITH_CUDA
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
#else
  (void)device;
#endif
}

// MiB: the largest bytes the caching allocator held since the reset on a GPU
// (as torch.cuda.max_memory_allocated), the process's peak RSS on the CPU.
double peak_memory_mb(const torch::Device& device) {
#ifdef SISYPHUS_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return static_cast<double>(
               stats
                   .allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
                   .peak) /
           (1 << 20);
  }
#endif
  (void)device;
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return -1;
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // kB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sisyphus training / loading benchmark"};
  std::string mode = "train", net_name = "lenet", dataset = "fashion-mnist", data_dir;
  int64_t batch_size = 128, steps = 0, warmup = 3;
  int threads = 1;
  bool augment = false;
  app.add_option("--mode", mode, "train or load")
      ->check(CLI::IsMember({"train", "load", "reduce", "raw", "sweep"}));
  app.add_option("--net", net_name, "Network");
  app.add_option("--dataset", dataset, "Data set");
  app.add_option("--data-dir", data_dir, "Data folder (default: the data set's)");
  app.add_option("--batch-size", batch_size, "Batch size");
  app.add_option("--steps", steps, "Timed steps (0: one full epoch)");
  app.add_option("--warmup", warmup, "Untimed steps first");
  app.add_option("--threads", threads, "Torch intra-op threads");
  app.add_flag("--augment", augment, "Use the data set's training augmentation");
  double bucket_mb = 25;
  app.add_option("--bucket-mb", bucket_mb, "Reducer bucket size in MiB");
  int64_t synthetic = 0;
  app.add_option("--synthetic", synthetic,
                 "Random in-memory training set of N images (0: the real data)");
  bool eval = false;
  app.add_flag("--eval", eval,
               "mode train: after the timed steps, one test-set pass (batch 100), timed too");
  bool imagenet_stem = false;
  app.add_flag("--imagenet-stem", imagenet_stem, "resnet50: the ImageNet stem (as torchvision's)");
  train::DeviceConfig dev;
  dev.device = "cpu";
  app.add_option("--device", dev.device, "cpu, cuda, auto");
  app.add_option("--precision", dev.precision, "fp32, bf16");
  app.add_flag("--channels-last", dev.channels_last, "NHWC images and conv weights");
  double max_mb = 64;
  app.add_option("--max-mb", max_mb, "mode sweep: the largest message in MiB");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::string malloc_setting = tune_malloc();  // as `sisyphus train` does
    train::check_device(dev);
    // mode raw calls MPI directly: it needs the MPI backend even on a GPU
    const train::Job job = train::start_job({threads, mode == "raw" ? "mpi" : "auto", dev});
    auto comm = job.comm;
    const int rank = job.rank, world = job.world;
    if (mode == "sweep") {
      const int64_t reps = steps > 0 ? steps : 20;
      for (int64_t n = 1; n * 4 <= static_cast<int64_t>(max_mb * (1 << 20)); n *= 4) {
        torch::Tensor t = torch::ones(
            {n}, torch::TensorOptions().dtype(torch::kFloat32).device(job.place.device));
        std::vector<double> us;
        for (int64_t i = 0; i < warmup + reps; ++i) {
          comm->barrier();
          auto t1 = Clock::now();
          comm->all_reduce(t, dist::ReduceOp::kSum);
          if (job.place.cuda()) torch::cuda::synchronize();  // NCCL returns before the end
          if (i >= warmup) us.push_back(1e6 * seconds_since(t1));
        }
        // every rank's times: the slowest rank's is the collective's
        torch::Tensor mine = torch::tensor(us, torch::kFloat64);
        comm->all_reduce(mine, dist::ReduceOp::kMax);
        torch::Tensor sorted = std::get<0>(mine.sort());
        if (rank == 0)
          std::printf(
              "sisyphus mode=sweep device=%s backend=%s ranks=%d bytes=%lld reps=%lld "
              "median_us=%.1f mean_us=%.1f\n",
              job.place.device.str().c_str(), comm->backend().c_str(), world,
              static_cast<long long>(n * 4), static_cast<long long>(reps),
              sorted[reps / 2].item<double>(), sorted.mean().item<double>());
      }
      return 0;
    }
    const data::DatasetSpec& spec = data::dataset_spec(dataset);
    data::ImageSet set;
    if (synthetic > 0) {
      set.n = synthetic;
      set.channels = spec.channels;
      set.height = set.width = spec.size;
      set.num_classes = spec.num_classes;
      torch::Tensor px = torch::randint(0, 256, {synthetic * set.image_bytes()}, torch::kUInt8);
      set.pixels.assign(px.data_ptr<uint8_t>(), px.data_ptr<uint8_t>() + px.numel());
      for (int64_t i = 0; i < synthetic; ++i) set.labels.push_back(i % spec.num_classes);
      set.source = "synthetic";
    } else {
      set = data::load_split(spec, data_dir.empty() ? spec.default_dir : data_dir, true);
    }
    torch::manual_seed(42);
    nn::Network net =
        nn::make_network(net_name, {spec.channels, spec.size, spec.num_classes}, imagenet_stem);
    train::place_module(*net, job.place);
    std::vector<std::pair<std::string, torch::Tensor>> params;
    int64_t param_bytes = 0;
    for (const auto& item : net->named_parameters()) {
      params.emplace_back(item.key(), item.value());
      param_bytes += item.value().numel() * 4;
    }
    train::OptimConfig ocfg;  // the paper's baseline optimizer
    train::Sgd sgd(params, ocfg);
    // A no-op on one rank (as in the trainers).
    auto reducer =
        std::make_unique<dist::GradientReducer>(comm, params, dist::reducer_options(bucket_mb));
    const train::Objective objective = train::Objective::cross_entropy();

    const int64_t global_batch =
        batch_size * world;  // --batch is per rank here, as DDP's benchmarks
    const int64_t per_epoch = (set.n + global_batch - 1) / global_batch;
    const int64_t timed = steps > 0 ? steps : per_epoch;
    int64_t done = 0, images = 0;
    double wait_before = 0;
    torch::Tensor raw;
    comm->barrier();
    auto t0 = Clock::now();
    for (int64_t epoch = 0; done < warmup + timed; ++epoch) {
      std::unique_ptr<data::BatchLoader> loader =
          train::epoch_loader(set, spec, job, global_batch, augment, /*seed=*/42, epoch);
      train::DeviceFeed feed(*loader, spec, job.place);
      for (int64_t k = 0; k < per_epoch && done < warmup + timed; ++k) {
        data::Batch batch = feed.next();
        if (done == warmup) {
          if (job.place.cuda()) torch::cuda::synchronize();
          comm->barrier();
          reset_peak_memory(job.place.device);
          t0 = Clock::now();
          wait_before = reducer ? reducer->stats().exposed_wait_s : 0;
        }
        int64_t count = data::global_batch_count(set.n, global_batch, k);
        if (mode == "train") {
          train::train_step(*net, sgd, batch, job.place, 0.1, objective, *reducer, count);
          dist::average_buffers(*comm, *net, batch.size());  // nothing on one rank
        } else if (mode != "load") {  // mode load: fetching the batch is the work
          // The same trivial backward in both modes; then either the reducer's
          // buckets or one raw MPI_Allreduce of all gradients, flattened.
          sgd.zero_grad();
          torch::Tensor loss = torch::zeros({});
          for (auto& [name, p] : params) loss = loss + p.sum();
          if (mode == "reduce") reducer->begin_step(1, world);
          loss.backward();
          if (mode == "reduce") {
            reducer->finish_step();
          } else {
            std::vector<torch::Tensor> grads;
            for (auto& [name, p] : params) grads.push_back(p.grad().reshape({-1}));
            raw = torch::cat(grads);
            int rc = MPI_Allreduce(MPI_IN_PLACE, raw.data_ptr(), static_cast<int>(raw.numel()),
                                   MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) throw std::runtime_error("MPI_Allreduce failed");
          }
        }
        if (done >= warmup) images += count;
        ++done;
      }
    }
    if (eval &&
        mode == "train") {  // as `sisyphus train` after every epoch (reading the split included)
      data::ImageSet test =
          data::load_split(spec, data_dir.empty() ? spec.default_dir : data_dir, false);
      train::evaluate(*net, test, spec, job.place, /*batch_size=*/100, comm.get());
    }
    if (job.place.cuda()) torch::cuda::synchronize();
    comm->barrier();
    double seconds = seconds_since(t0);
    if (rank == 0) {
      double wait = reducer ? reducer->stats().exposed_wait_s - wait_before : 0;
      std::printf(
          "sisyphus mode=%s eval=%d net=%s dataset=%s device=%s precision=%s channels_last=%d "
          "ranks=%d batch=%lld threads=%d images=%lld "
          "seconds=%.3f images_per_s=%.1f steps=%lld step_ms=%.3f bytes_per_step=%lld "
          "MBps=%.1f exposed_wait_ms=%.3f peak_mem_mb=%.1f\n",
          mode.c_str(), eval ? 1 : 0, net_name.c_str(), dataset.c_str(),
          job.place.device.str().c_str(), dev.precision.c_str(), dev.channels_last ? 1 : 0, world,
          static_cast<long long>(batch_size), threads, static_cast<long long>(images), seconds,
          images / seconds, static_cast<long long>(timed), 1000 * seconds / timed,
          static_cast<long long>(param_bytes), param_bytes * timed / seconds / 1e6,
          1000 * wait / timed, peak_memory_mb(job.place.device));
      std::fprintf(stderr, "%s\n", malloc_setting.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sisyphus_bench_train: %s\n", e.what());
    return 1;
  }
  return 0;
}
