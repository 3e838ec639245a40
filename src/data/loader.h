// Batches of normalised float images, prepared on a background thread.
//
// A BatchLoader walks a fixed list of sample indices (one rank's shard of an
// epoch) in order, cuts it into batches (of `batch_size`, the last one
// possibly smaller, or of the given sizes, some possibly empty), augments
// and normalises each image, and hands out
//   images: float32 [B, C, H, W], labels: int64 [B].
// Up to `prefetch` batches are prepared ahead of the consumer.
#pragma once

#include <torch/types.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/sampler.h"

namespace sisyphus::data {

struct Batch {
  torch::Tensor images;  // float32 [B, C, H, W]
  torch::Tensor labels;  // int64 [B]
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

struct LoaderOptions {
  int64_t batch_size = 128;          // images per batch (when no sizes are given)
  Augment augment = Augment::kNone;  // kNone for evaluation
  uint64_t seed = 42;                // run seed
  int64_t epoch = 0;                 // with seed, fixes every augmentation draw
  int prefetch = 4;                  // batches prepared ahead
  bool pin_memory = false;           // page-locked batches (GPU jobs: asynchronous copies)
};

class BatchLoader {
 public:
  BatchLoader(const ImageSet& set, const DatasetSpec& spec, std::vector<int64_t> indices,
              LoaderOptions options);
  // One rank's batches of given sizes (sampler.h: shard_batches).
  BatchLoader(const ImageSet& set, const DatasetSpec& spec, RankBatches batches,
              LoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Fills `out` with the next batch; false at the end of the list. Rethrows
  // any error the background thread hit.
  bool next(Batch* out);
  int64_t num_batches() const;

  // Builds one batch synchronously (the worker's unit of work; also used by
  // the loading benchmark).
  Batch make_batch(int64_t batch_index) const;

 private:
  void run();

  void start(const DatasetSpec& spec);

  const ImageSet& set_;
  std::vector<int64_t> indices_;
  std::vector<int64_t> starts_;  // batch b is indices_[starts_[b], starts_[b+1])
  LoaderOptions options_;
  std::vector<float> mean_, inv_std_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Batch> ready_;
  int64_t produced_ = 0;
  int64_t consumed_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
};

}  // namespace sisyphus::data
