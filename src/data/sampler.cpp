#include "data/sampler.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/rng.h"

namespace sisyphus::data {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (!shuffle) return order;
  // Our own Fisher-Yates with an unbiased bounded draw: std::shuffle and
  // std::uniform_int_distribution differ between standard libraries.
  std::mt19937_64 rng(derive_seed(seed, 0x5A3D1E, static_cast<uint64_t>(epoch)));
  for (int64_t i = n - 1; i > 0; --i) {
    uint64_t bound = static_cast<uint64_t>(i) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    std::swap(order[i], order[static_cast<int64_t>(r % bound)]);
  }
  return order;
}

Share rank_share(int64_t count, int rank, int world_size) {
  SISYPHUS_CHECK(world_size >= 1 && rank >= 0 && rank < world_size && count >= 0,
                 ErrorKind::kConfig,
                 "invalid rank " + std::to_string(rank) + " of " + std::to_string(world_size));
  const int64_t base = count / world_size, extra = count % world_size;
  return {rank * base + std::min<int64_t>(rank, extra), base + (rank < extra ? 1 : 0)};
}

RankBatches shard_batches(const std::vector<int64_t>& order, int rank, int world_size,
                          int64_t global_batch) {
  SISYPHUS_CHECK(global_batch >= 1, ErrorKind::kConfig,
                 "invalid global batch " + std::to_string(global_batch));
  const int64_t n = static_cast<int64_t>(order.size());
  RankBatches mine;
  for (int64_t k = 0; k < num_global_batches(n, global_batch); ++k) {
    const Share s = rank_share(global_batch_count(n, global_batch, k), rank, world_size);
    const auto first = order.begin() + k * global_batch + s.offset;
    mine.indices.insert(mine.indices.end(), first, first + s.size);
    mine.sizes.push_back(s.size);
  }
  return mine;
}

RankBatches drop_first_batches(RankBatches batches, int64_t k) {
  SISYPHUS_CHECK(k >= 0 && k <= static_cast<int64_t>(batches.sizes.size()), ErrorKind::kConfig,
                 "cannot skip " + std::to_string(k) + " of " +
                     std::to_string(batches.sizes.size()) + " batches");
  int64_t samples = 0;
  for (int64_t b = 0; b < k; ++b) samples += batches.sizes[static_cast<size_t>(b)];
  batches.indices.erase(batches.indices.begin(), batches.indices.begin() + samples);
  batches.sizes.erase(batches.sizes.begin(), batches.sizes.begin() + k);
  return batches;
}

int64_t global_batch_count(int64_t n, int64_t global_batch, int64_t k) {
  return std::clamp<int64_t>(n - k * global_batch, 0, global_batch);
}

int64_t num_global_batches(int64_t n, int64_t global_batch) {
  return (n + global_batch - 1) / global_batch;
}

}  // namespace sisyphus::data
