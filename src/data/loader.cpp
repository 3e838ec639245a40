#include "data/loader.h"

#include <algorithm>

#include "core/rng.h"

namespace sisyphus::data {

BatchLoader::BatchLoader(const ImageSet& set, const DatasetSpec& spec, std::vector<int64_t> indices,
                         LoaderOptions options)
    : set_(set), indices_(std::move(indices)), options_(options) {
  const int64_t n = static_cast<int64_t>(indices_.size());
  for (int64_t b = 0; b < n; b += std::max<int64_t>(1, options_.batch_size)) starts_.push_back(b);
  starts_.push_back(n);
  start(spec);
}

BatchLoader::BatchLoader(const ImageSet& set, const DatasetSpec& spec, RankBatches batches,
                         LoaderOptions options)
    : set_(set), indices_(std::move(batches.indices)), options_(options) {
  starts_.push_back(0);
  for (int64_t size : batches.sizes) starts_.push_back(starts_.back() + size);
  start(spec);
}

void BatchLoader::start(const DatasetSpec& spec) {
  for (size_t c = 0; c < spec.mean.size(); ++c) {
    mean_.push_back(spec.mean[c]);
    inv_std_.push_back(1.0f / spec.stdv[c]);
  }
  if (options_.prefetch < 1) options_.prefetch = 1;
  worker_ = std::thread([this] { run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

int64_t BatchLoader::num_batches() const { return static_cast<int64_t>(starts_.size()) - 1; }

Batch BatchLoader::make_batch(int64_t b) const {
  const int64_t begin = starts_.at(static_cast<size_t>(b));
  const int64_t count = starts_.at(static_cast<size_t>(b) + 1) - begin;
  Batch batch;
  const auto pinned = torch::TensorOptions().pinned_memory(options_.pin_memory);
  batch.images =
      torch::empty({count, set_.channels, set_.height, set_.width}, pinned.dtype(torch::kFloat32));
  batch.labels = torch::empty({count}, pinned.dtype(torch::kInt64));
  float* img = batch.images.data_ptr<float>();
  int64_t* lab = batch.labels.data_ptr<int64_t>();
  const int64_t stride = set_.image_bytes();
  Normalizer norm{mean_.data(), inv_std_.data()};
  for (int64_t i = 0; i < count; ++i) {
    int64_t sample = indices_[static_cast<size_t>(begin + i)];
    uint64_t seed = derive_seed(options_.seed, static_cast<uint64_t>(options_.epoch),
                                static_cast<uint64_t>(sample));
    prepare_image(set_.image(sample), set_.channels, set_.height, set_.width, options_.augment,
                  seed, norm, img + i * stride);
    lab[i] = set_.labels[static_cast<size_t>(sample)];
  }
  return batch;
}

void BatchLoader::run() {
  try {
    for (int64_t b = 0; b < num_batches(); ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || produced_ - consumed_ < options_.prefetch; });
        if (stop_) return;
      }
      Batch batch = make_batch(b);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
        ++produced_;
      }
      cv_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  cv_.notify_all();
}

bool BatchLoader::next(Batch* out) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (consumed_ >= num_batches()) return false;
  cv_.wait(lock, [&] { return !ready_.empty() || error_; });
  if (ready_.empty() && error_) std::rethrow_exception(error_);
  *out = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  lock.unlock();
  cv_.notify_all();
  return true;
}

}  // namespace sisyphus::data
