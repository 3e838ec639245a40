// Epoch order and per-rank shards.
//
// Epoch e visits a permutation of [0, n) that depends only on (seed, e). Rank
// r of R takes positions r, r+R, r+2R, ... of it, so the shards are disjoint,
// cover every sample once, and differ in size by at most one. With local
// batch B, the k-th local batches of all ranks together are exactly the k-th
// global batch of size R*B of a single process: R ranks x B == 1 rank x R*B.
#pragma once

#include <cstdint>
#include <vector>

namespace sisyphus::data {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle);
std::vector<int64_t> shard(const std::vector<int64_t>& order, int rank, int world_size);

}  // namespace sisyphus::data
