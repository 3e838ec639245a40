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
    do r = rng(); while (r >= limit);
    std::swap(order[i], order[static_cast<int64_t>(r % bound)]);
  }
  return order;
}

std::vector<int64_t> shard(const std::vector<int64_t>& order, int rank, int world_size) {
  SISYPHUS_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, ErrorKind::kConfig,
                 "invalid rank " + std::to_string(rank) + " of " + std::to_string(world_size));
  std::vector<int64_t> mine;
  mine.reserve(order.size() / static_cast<size_t>(world_size) + 1);
  for (size_t i = static_cast<size_t>(rank); i < order.size(); i += static_cast<size_t>(world_size))
    mine.push_back(order[i]);
  return mine;
}

}  // namespace sisyphus::data

namespace sisyphus::data {

std::vector<int64_t> shard_batches(const std::vector<int64_t>& order, int rank, int world_size,
                                   int64_t batch) {
  SISYPHUS_CHECK(world_size >= 1 && rank >= 0 && rank < world_size && batch >= 1,
                 ErrorKind::kConfig,
                 "invalid rank " + std::to_string(rank) + " of " + std::to_string(world_size));
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t global = batch * world_size;
  std::vector<int64_t> mine;
  for (int64_t start = 0; start < n; start += global) {
    int64_t begin = std::min(n, start + rank * batch);
    int64_t end = std::min(n, begin + batch);
    mine.insert(mine.end(), order.begin() + begin, order.begin() + end);
  }
  return mine;
}

int64_t global_batch_count(int64_t n, int world_size, int64_t batch, int64_t k) {
  const int64_t global = batch * world_size;
  return std::clamp<int64_t>(n - k * global, 0, global);
}

}  // namespace sisyphus::data
